// Object management functions (PKCS#11 3.0 section 5.7): arguments checked, the token's
// key_management.h does the work.
#include <optional>

#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "token/attribute_policy.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

extern "C" {

CK_RV C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                     CK_OBJECT_HANDLE_PTR object) {
  return guard("C_CreateObject", arg(session), [&] {
    SessionRef ref = library().session(session);
    require_arg(object != nullptr);
    token::AttributeMap request = parse_template(tmpl, count);
    *object = token::create_object(ref.token(), ref.caller(), request)->handle;
  });
}

CK_RV C_CopyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl,
                   CK_ULONG count, CK_OBJECT_HANDLE_PTR new_object) {
  return guard("C_CopyObject", arg(session) + ", " + arg(object), [&] {
    SessionRef ref = library().session(session);
    require_arg(new_object != nullptr);
    token::AttributeMap changes = parse_template(tmpl, count);
    *new_object = token::copy_object(ref.token(), ref.caller(), object, changes)->handle;
  });
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
  return guard("C_DestroyObject", arg(session) + ", " + arg(object), [&] {
    SessionRef ref = library().session(session);
    token::destroy_object(ref.token(), ref.caller(), object);
  });
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG_PTR size) {
  return guard("C_GetObjectSize", arg(session) + ", " + arg(object), [&] {
    SessionRef ref = library().session(session);
    require_arg(size != nullptr);
    *size = ref.token().object(object)->attrs.encode().size();
  });
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG count) {
  return guard("C_GetAttributeValue", arg(session) + ", " + arg(object), [&] {
    SessionRef ref = library().session(session);
    check_template_count(tmpl, count);
    token::ObjectPtr obj = ref.token().object(object);
    // Every attribute is answered; the call returns the last problem found (PKCS#11 3.0 5.7.5
    // allows any of them when several apply).
    CK_RV result = CKR_OK;
    for (CK_ULONG i = 0; i < count; ++i) {
      CK_ATTRIBUTE& a = tmpl[i];
      const crypto::SecureBytes* value = obj->attrs.find(a.type);
      if (value && token::is_hidden(obj->attrs, a.type)) {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        result = CKR_ATTRIBUTE_SENSITIVE;
      } else if (!value) {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        result = CKR_ATTRIBUTE_TYPE_INVALID;
      } else if (CK_RV rv = give_attribute(a, *value); rv != CKR_OK) {
        result = rv;
      }
    }
    if (result != CKR_OK) {
      throw CkError(result, "some attributes could not be returned");
    }
  });
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl,
                          CK_ULONG count) {
  return guard("C_SetAttributeValue", arg(session) + ", " + arg(object), [&] {
    SessionRef ref = library().session(session);
    token::AttributeMap changes = parse_template(tmpl, count);
    token::set_attributes(ref.token(), ref.caller(), object, changes);
  });
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
  return guard("C_FindObjectsInit", arg(session), [&] {
    SessionRef ref = library().session(session);
    require(!ref->find.has_value(), CKR_OPERATION_ACTIVE, "a search is already active");
    std::optional<token::AttributeMap> query;
    try {
      query = parse_template(tmpl, count);
    } catch (const CkError& e) {
      // One attribute with two different values matches no object byte for byte; and
      // CKR_TEMPLATE_INCONSISTENT is not among C_FindObjectsInit's codes (PKCS#11 3.0 5.7.7).
      if (e.rv() != CKR_TEMPLATE_INCONSISTENT) {
        throw;
      }
    }
    ref->find =
        FindOperation{query ? ref.token().find(*query) : std::vector<CK_OBJECT_HANDLE>{}, 0};
  });
}

CK_RV C_FindObjects(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE_PTR objects, CK_ULONG max_count,
                    CK_ULONG_PTR count) {
  return guard("C_FindObjects", arg(session), [&] {
    SessionRef ref = library().session(session);
    require_arg(objects != nullptr && count != nullptr);
    require(ref->find.has_value(), CKR_OPERATION_NOT_INITIALIZED, "no search is active");
    FindOperation& f = *ref->find;
    CK_ULONG n = 0;
    while (n < max_count && f.next < f.results.size()) {
      objects[n++] = f.results[f.next++];
    }
    *count = n;
  });
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE session) {
  return guard("C_FindObjectsFinal", arg(session), [&] {
    SessionRef ref = library().session(session);
    require(ref->find.has_value(), CKR_OPERATION_NOT_INITIALIZED, "no search is active");
    ref->find.reset();
  });
}

}  // extern "C"
