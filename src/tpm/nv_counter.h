// NvCounter is a TPM NV index of type counter: 8 bytes that only TPM2_NV_Increment changes, and
// only upwards. The TPM keeps it across reboots; a counter defined anew at the same index starts
// at the highest value any counter of this TPM ever had, so deleting and redefining it cannot take
// it back either. Reading and incrementing need its authorization value (not subject to the
// dictionary-attack lockout); every use checks that the index is still the one defined (its name:
// a hash of its type and attributes), so an ordinary index put in its place is refused.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"
#include "tpm/context.h"

namespace twinhsm::tpm {

class NvCounter {
 public:
  // define makes a counter at the first free index from first (wrapping within [base,
  // base + span)), authorized by the owner hierarchy's empty password, and increments it once so
  // that it can be read. Throws TpmError when no index is free or the owner has a password.
  static NvCounter define(Context& ctx, uint32_t base, uint32_t span, uint32_t first,
                          std::span<const uint8_t> auth);
  // NvCounter names an existing counter: its index and name (from define) and auth.
  NvCounter(uint32_t index, Bytes name, crypto::SecureBytes auth);

  uint32_t index() const { return index_; }
  const Bytes& name() const { return name_; }

  // read returns the value. Throws TpmError when the index is gone or is not this counter.
  uint64_t read(Context& ctx) const;
  // increment adds one.
  void increment(Context& ctx) const;
  // undefine deletes the index (owner authorization).
  void undefine(Context& ctx) const;

 private:
  uint32_t index_;
  Bytes name_;
  crypto::SecureBytes auth_;
};

}  // namespace twinhsm::tpm
