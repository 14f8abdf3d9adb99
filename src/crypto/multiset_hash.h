// MultisetHash is an incremental hash of a multiset of byte strings (MSet-Add-Hash, Clarke et al.
// 2003, keyed): the sum, modulo 2^256, of HMAC-SHA256(key, element) over the elements. Adding or
// removing one element costs one HMAC, whatever the size of the set, so a store can keep the hash
// of all its rows up to date in the transaction that changes one. Without the key nobody can
// compute an element's term, so nobody can find another multiset with the same value; keep the
// value secret too (store it encrypted), or differences of successive values give the terms away.
#pragma once

#include <memory>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

class MultisetHash {
 public:
  static constexpr size_t kSize = 32;
  // A hash of the empty multiset under key.
  explicit MultisetHash(SecureBytes key);
  ~MultisetHash();
  MultisetHash(MultisetHash&&) noexcept;
  MultisetHash& operator=(MultisetHash&&) noexcept;

  void add(ByteView element);
  void remove(ByteView element);
  // value is the current hash (kSize bytes, big-endian); set_value restores one (it throws
  // CryptoError if v is not kSize bytes).
  SecureBytes value() const;
  void set_value(ByteView v);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace twinhsm::crypto
