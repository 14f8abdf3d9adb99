// AttributeMap is an object's attributes as PKCS#11 defines them: type -> value bytes. Values are
// held in SecureBytes because some are key material. encode/decode give the stored form.
#pragma once

#include <map>
#include <optional>

#include "common/bytes.h"
#include "common/pkcs11.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::token {

using crypto::SecureBytes;

class AttributeMap {
 public:
  bool has(CK_ATTRIBUTE_TYPE type) const { return values_.count(type) != 0; }
  const SecureBytes* find(CK_ATTRIBUTE_TYPE type) const;
  void set(CK_ATTRIBUTE_TYPE type, SecureBytes value) { values_[type] = std::move(value); }
  void set(CK_ATTRIBUTE_TYPE type, ByteView value) { values_[type] = crypto::secure_copy(value); }
  void set_bool(CK_ATTRIBUTE_TYPE type, bool value);
  void set_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
  void erase(CK_ATTRIBUTE_TYPE type) { values_.erase(type); }

  // Typed reads. Throw CkError(CKR_ATTRIBUTE_VALUE_INVALID) when the value has the wrong size;
  // return the fallback (or nullopt) when the attribute is absent.
  bool get_bool(CK_ATTRIBUTE_TYPE type, bool fallback) const;
  std::optional<CK_ULONG> get_ulong(CK_ATTRIBUTE_TYPE type) const;
  Bytes get_bytes(CK_ATTRIBUTE_TYPE type) const;  // empty when absent

  auto begin() const { return values_.begin(); }
  auto end() const { return values_.end(); }
  size_t size() const { return values_.size(); }

  // encode gives the stored form, the same on every host (docs/backup-format.md, "Attribute
  // encoding"): the bytes ff 74 61 02, a count (4 bytes), then per attribute in type order its type
  // (8), a form byte, a length (4) and the value, all big-endian; CK_ULONG values (form 1) and
  // CKA_ALLOWED_MECHANISMS (form 2) as 8-byte big-endian integers, whatever the host's CK_ULONG.
  // decode reads it, and the first encoding (no magic: count, then type, length and the value in
  // the host's layout), which x86-64 builds wrote before; it throws IntegrityError on malformed
  // input or a value that does not fit this host's CK_ULONG.
  SecureBytes encode() const;
  static AttributeMap decode(ByteView data);
  // is_portable: encoded is in the portable encoding (not the first one).
  static bool is_portable(ByteView encoded);
  // portable_value is a value as the portable encoding has it (index tags are made from it).
  static SecureBytes portable_value(CK_ATTRIBUTE_TYPE type, const SecureBytes& value);

 private:
  std::map<CK_ATTRIBUTE_TYPE, SecureBytes> values_;
};

}  // namespace twinhsm::token
