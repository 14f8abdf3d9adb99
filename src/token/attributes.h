// AttributeMap is an object's attributes as PKCS#11 defines them: type -> value bytes. Values are
// held in SecureBytes because some are key material. encode/decode give the stored form.
#pragma once

#include "common/pkcs11.h"

#include <map>
#include <optional>

#include "common/bytes.h"
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

  // encode gives the stored form: count (4 bytes), then per attribute type (8), length (4) and
  // value, all big-endian, in type order. decode throws IntegrityError on malformed input.
  SecureBytes encode() const;
  static AttributeMap decode(ByteView data);

 private:
  std::map<CK_ATTRIBUTE_TYPE, SecureBytes> values_;
};

}  // namespace twinhsm::token
