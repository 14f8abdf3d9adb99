// What becomes of each SoftHSMv2 object in twinhsm: the template twinhsm creates it from, or why
// twinhsm cannot hold it. Pure: nothing here touches either token.
//
// The template is the object's attributes as SoftHSMv2 gives them, less those twinhsm computes
// itself (CKA_LOCAL, CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
// CKA_MODULUS_BITS, CKA_VALUE_LEN, CKA_VALUE_BITS). Of those, an imported key keeps
// CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE when SoftHSMv2 generated it (CKA_LOCAL) and said
// so, and its CKA_SENSITIVE and CKA_EXTRACTABLE still agree; CKA_LOCAL becomes false (twinhsm did
// not generate it). docs/import.md says why.
#pragma once

#include <string>

#include "import/softhsm2_token.h"

namespace twinhsm::import {

struct Candidate {
  std::string file;        // the SoftHSMv2 object file
  std::string class_name;  // "private-key", "certificate", ... (as `twinhsm objects list`)
  std::string key_type;    // "rsa", "ec", "aes", ...; empty for objects that are not keys
  std::string label;       // CKA_LABEL (bytes, shown as they are)
  std::string id_hex;      // CKA_ID in hex
  bool is_private = true;
  token::AttributeMap tmpl;
  // For secret and private keys: the values twinhsm gives them (see above).
  bool always_sensitive = false;
  bool never_extractable = false;
  // Why twinhsm cannot hold the object (a type, curve or attribute it does not have); empty when
  // it can.
  std::string unsupported;

  // describe names the object for messages: `private-key rsa "label" id 01 (<uuid>.object)`.
  std::string describe() const;
};

// plan_object decides what becomes of one SoftHSMv2 object.
Candidate plan_object(const SourceObject& source);

}  // namespace twinhsm::import
