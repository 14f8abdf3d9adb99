// One SoftHSMv2 token directory of its file backend, read and never written: `token.object` (the
// token's label, serial and the PIN blobs) and one `<uuid>.object` per token object
// (object_file.h). Every file is opened read-only and read under a shared fcntl lock, the lock
// SoftHSMv2 takes to read, so a SoftHSMv2 process writing an object is waited for.
//
// The user PIN opens the token key: AES-256-CBC-decrypt the user PIN blob,
//   blob = salt (8) || IV (16) || AES-256-CBC(softhsm2_pin_key(PIN, salt), IV, "RJR" || key (32))
// with PKCS#7 padding. In a private object (CKA_PRIVATE true) every non-empty byte value but
// CKA_START_DATE and CKA_END_DATE is IV (16) || AES-256-CBC(token key, IV, value), padded.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "import/object_file.h"
#include "token/attributes.h"

namespace twinhsm::import {

// SourceObject is one token object of the SoftHSMv2 token with its values in the clear, as
// PKCS#11 gives them: booleans as CK_BBOOL, numbers as CK_ULONG, CKA_ALLOWED_MECHANISMS as an
// array of CK_MECHANISM_TYPE, an attribute template (CKA_WRAP_TEMPLATE, ...) as twinhsm stores
// one: the encoding of its attributes (token::AttributeMap::encode). Empty templates and
// mechanism sets (SoftHSMv2's defaults, meaning "none") are left out.
struct SourceObject {
  std::string file;  // the object file's name, "<uuid>.object"
  token::AttributeMap attrs;
};

// source_object gives a parsed object file's attributes in the clear, its private values
// decrypted with token_key. Throws IntegrityError when one does not decrypt.
SourceObject source_object(const std::string& file_name, const ObjectFile& file,
                           const crypto::SecureBytes& token_key);

class SoftHsm2Token {
 public:
  // open reads dir/token.object. Throws UsageError when dir is not one token directory of
  // SoftHSMv2's file backend (the message says what it is instead, e.g. the tokens directory
  // above it), IntegrityError when token.object is damaged.
  static SoftHsm2Token open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::string label() const;  // without the blank padding
  std::string serial() const;
  size_t object_files() const { return files_.size(); }

  // read_objects opens the token key with the token's user PIN and returns every token object,
  // in the order of their file names. Throws UsageError for a wrong PIN or a token without a
  // user PIN, IntegrityError naming the object file that is damaged.
  std::vector<SourceObject> read_objects(ByteView user_pin) const;

 private:
  SoftHsm2Token(std::filesystem::path dir, ObjectFile token, std::vector<std::string> files);
  crypto::SecureBytes token_key(ByteView user_pin) const;

  std::filesystem::path dir_;
  ObjectFile token_;
  std::vector<std::string> files_;  // object file names, sorted
};

}  // namespace twinhsm::import
