// Object management functions (PKCS#11 3.0 section 5.7).
#include <optional>

#include "crypto/random.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "pkcs11/objects.h"
#include "token/attribute_policy.h"
#include "token/key_material.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

namespace twinhsm::pkcs11 {

void check_trusted(const SessionRef& ref, const token::AttributeMap& changes) {
  // PKCS#11 3.0 4.9/4.10: CKA_TRUSTED can only be set to CK_TRUE by the SO.
  if (changes.get_bool(CKA_TRUSTED, false)) {
    require(ref.token().logged_in() == token::Role::so, CKR_ATTRIBUTE_READ_ONLY,
            "only the SO may set CKA_TRUSTED");
  }
}

void check_can_write(const SessionRef& ref, const token::AttributeMap& attrs) {
  token::Token& t = ref.token();
  if (attrs.get_bool(CKA_TOKEN, false)) {
    require(ref->read_write(), CKR_SESSION_READ_ONLY, "token objects need a read-write session");
  }
  if (attrs.get_bool(CKA_PRIVATE, true)) {
    require(t.logged_in() == token::Role::user, CKR_USER_NOT_LOGGED_IN,
            "private objects need the user logged in");
  }
}

token::ObjectPtr store_new_object(const SessionRef& ref, token::AttributeMap attrs) {
  check_can_write(ref, attrs);
  bool on_token = attrs.get_bool(CKA_TOKEN, false);
  return ref.token().create(std::move(attrs), on_token, ref->handle);
}

token::ObjectPtr find_key(const SessionRef& ref, CK_OBJECT_HANDLE handle) {
  try {
    return ref.token().key(handle);
  } catch (const CkError& e) {
    if (e.rv() == CKR_OBJECT_HANDLE_INVALID) {
      throw CkError(CKR_KEY_HANDLE_INVALID, "no such key");
    }
    throw;
  }
}

}  // namespace twinhsm::pkcs11

namespace {

std::string h(CK_ULONG v) { return std::to_string(v); }

}  // namespace

extern "C" {

CK_RV C_CreateObject(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                     CK_OBJECT_HANDLE_PTR object) {
  return guard("C_CreateObject", h(session), [&] {
    SessionRef ref = library().session(session);
    require_arg(object != nullptr);
    token::AttributeMap request = parse_template(tmpl, count);
    check_trusted(ref, request);
    token::AttributeMap attrs = token::complete_template(request, token::Origin::created);
    token::check_required(attrs);
    token::validate_key_object(attrs);
    token::finish_key(attrs, token::Origin::created);
    *object = store_new_object(ref, std::move(attrs))->handle;
  });
}

CK_RV C_CopyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_PTR tmpl,
                   CK_ULONG count, CK_OBJECT_HANDLE_PTR new_object) {
  return guard("C_CopyObject", h(session) + ", " + h(object), [&] {
    SessionRef ref = library().session(session);
    require_arg(new_object != nullptr);
    token::ObjectPtr source = ref.token().object(object);
    token::AttributeMap changes = parse_template(tmpl, count);
    check_trusted(ref, changes);
    token::check_change(source->attrs, changes, true);
    token::AttributeMap attrs = source->attrs;
    for (const auto& [type, value] : changes) {
      attrs.set(type, value);
    }
    attrs.set(CKA_UNIQUE_ID, as_bytes(to_hex(crypto::random_bytes(16))));
    *new_object = store_new_object(ref, std::move(attrs))->handle;
  });
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object) {
  return guard("C_DestroyObject", h(session) + ", " + h(object), [&] {
    SessionRef ref = library().session(session);
    token::ObjectPtr obj = ref.token().object(object);
    if (obj->is_token()) {
      require(ref->read_write(), CKR_SESSION_READ_ONLY, "token objects need a read-write session");
    }
    require(obj->attrs.get_bool(CKA_DESTROYABLE, true), CKR_ACTION_PROHIBITED,
            "the object has CKA_DESTROYABLE false");
    ref.token().destroy(*obj);
  });
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ULONG_PTR size) {
  return guard("C_GetObjectSize", h(session) + ", " + h(object), [&] {
    SessionRef ref = library().session(session);
    require_arg(size != nullptr);
    *size = ref.token().object(object)->attrs.encode().size();
  });
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                          CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
  CK_RV result = CKR_OK;
  CK_RV rv = guard("C_GetAttributeValue", h(session) + ", " + h(object), [&] {
    SessionRef ref = library().session(session);
    check_template_count(tmpl, count);
    token::ObjectPtr obj = ref.token().object(object);
    // Every attribute is answered; the call returns the last problem found (PKCS#11 3.0 5.7.5
    // allows any of them when several apply).
    for (CK_ULONG i = 0; i < count; ++i) {
      CK_ATTRIBUTE& a = tmpl[i];
      const crypto::SecureBytes* value = obj->attrs.find(a.type);
      if (value && token::is_hidden(obj->attrs, a.type)) {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        result = CKR_ATTRIBUTE_SENSITIVE;
      } else if (!value) {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        result = CKR_ATTRIBUTE_TYPE_INVALID;
      } else if (a.pValue == nullptr) {
        a.ulValueLen = value->size();
      } else if (a.ulValueLen < value->size()) {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        result = CKR_BUFFER_TOO_SMALL;
      } else {
        if (!value->empty()) {  // an empty value has no data pointer to copy from
          std::memcpy(a.pValue, value->data(), value->size());
        }
        a.ulValueLen = value->size();
      }
    }
    if (result != CKR_OK) {
      throw CkError(result, "some attributes could not be returned");
    }
  });
  return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                          CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
  return guard("C_SetAttributeValue", h(session) + ", " + h(object), [&] {
    SessionRef ref = library().session(session);
    token::ObjectPtr obj = ref.token().object(object);
    if (obj->is_token()) {
      require(ref->read_write(), CKR_SESSION_READ_ONLY, "token objects need a read-write session");
    }
    token::AttributeMap changes = parse_template(tmpl, count);
    check_trusted(ref, changes);
    token::check_change(obj->attrs, changes, false);
    token::AttributeMap attrs = obj->attrs;
    for (const auto& [type, value] : changes) {
      attrs.set(type, value);
    }
    ref.token().replace(*obj, std::move(attrs));
  });
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count) {
  return guard("C_FindObjectsInit", h(session), [&] {
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
  return guard("C_FindObjects", h(session), [&] {
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
  return guard("C_FindObjectsFinal", h(session), [&] {
    SessionRef ref = library().session(session);
    require(ref->find.has_value(), CKR_OPERATION_NOT_INITIALIZED, "no search is active");
    ref->find.reset();
  });
}

}  // extern "C"
