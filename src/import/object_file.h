// SoftHSMv2's object file (its file backend: `token.object` and one `<uuid>.object` per token
// object), parsed from bytes. The layout (SoftHSMv2 src/lib/object_store/ObjectFile.cpp and
// File.cpp; docs/import.md has it byte by byte), every number an 8-byte big-endian integer:
//
//   file      = generation, attribute*                       (to the end of the file)
//   attribute = type, kind, value
//   value     = kind 1 (boolean): 1 byte, 0 false, anything else true
//               kind 2 (ulong):   8 bytes
//               kind 3 (bytes):   length, that many bytes
//               kind 4 (map):     length in bytes, then attributes of kinds 1, 2, 3 and 5
//               kind 5 (mechanism set): count, then count mechanism types
//
// Nothing here decrypts: byte values of private objects are still SoftHSMv2's ciphertext.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/pkcs11.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::import {

// FileValue is one value as the file holds it.
struct FileValue {
  enum class Kind { boolean = 1, ulong = 2, bytes = 3, map = 4, mechanisms = 5 };
  Kind kind = Kind::bytes;
  bool boolean = false;
  uint64_t ulong = 0;
  // A public object's secret-key value is in the clear in SoftHSMv2's files: every byte value
  // is kept as a secret.
  crypto::SecureBytes bytes;
  std::vector<uint64_t> mechanisms;
};

// FileAttribute is one attribute: a value, or (kind map) an attribute template
// (CKA_WRAP_TEMPLATE, ...) and the attributes it holds.
struct FileAttribute : FileValue {
  std::map<CK_ATTRIBUTE_TYPE, FileValue> map;
};

struct ObjectFile {
  uint64_t generation = 0;
  std::map<CK_ATTRIBUTE_TYPE, FileAttribute> attributes;

  const FileAttribute* find(CK_ATTRIBUTE_TYPE type) const;
};

// parse_object_file reads a whole object file. Throws IntegrityError naming what is wrong (and
// where) for a truncated file, an unknown kind, a length past the end, an attribute type that
// does not fit a CK_ATTRIBUTE_TYPE, or an attribute given twice.
ObjectFile parse_object_file(ByteView data);

}  // namespace twinhsm::import
