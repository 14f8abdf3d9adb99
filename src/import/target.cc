#include "import/target.h"

#include "token/attribute_policy.h"
#include "token/key_material.h"
#include "token/key_policy.h"

namespace twinhsm::import {

bool make_object(token::Token& t, const Candidate& c, bool narrow_usage) {
  // As token::create_object (C_CreateObject), with the carried attributes set before the key
  // policy looks at the finished key.
  token::AttributeMap attrs = token::complete_template(c.tmpl, token::Origin::created);
  token::check_required(attrs);
  token::validate_key_object(attrs);
  token::finish_key(attrs, token::Origin::created);
  CK_OBJECT_CLASS cls = token::object_class(attrs);
  if (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
    attrs.set_bool(CKA_ALWAYS_SENSITIVE, c.always_sensitive);
    attrs.set_bool(CKA_NEVER_EXTRACTABLE, c.never_extractable);
  }
  token::KeyPolicy policy = t.key_policy();
  bool narrowed =
      narrow_usage && policy == token::KeyPolicy::strict && token::mixes_wrapping_and_data(attrs);
  if (narrowed) {
    attrs.set_bool(CKA_WRAP, false);
    attrs.set_bool(CKA_UNWRAP, false);
  }
  token::check_new_key(attrs, t.logged_in(), policy);
  t.create(std::move(attrs), /*token_object=*/true, 0);
  return narrowed;
}

bool strict_key_policy(token::Token& t) {
  return t.key_policy() == token::KeyPolicy::strict;
}

bool already_present(token::Token& t, const Candidate& c) {
  token::AttributeMap match;
  for (CK_ATTRIBUTE_TYPE type : {CKA_CLASS, CKA_ID, CKA_LABEL, CKA_APPLICATION}) {
    if (const auto* v = c.tmpl.find(type)) {
      match.set(type, ByteView(*v));
    }
  }
  return !t.find(match).empty();
}

}  // namespace twinhsm::import
