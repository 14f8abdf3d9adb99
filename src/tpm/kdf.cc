#include "tpm/kdf.h"

#include <algorithm>

namespace twinhsm::tpm {

crypto::SecureBytes kbkdf_counter_hmac_sha256(Context& ctx, Session& s, const Object& key,
                                              std::string_view label, ByteView context,
                                              size_t out_len) {
  if (out_len == 0 || out_len > 1024) {
    throw UsageError("a TPM key derivation gives 1 to 1024 bytes");
  }
  Bytes fixed;
  append_be(fixed, 0, 4);  // the counter, set for each block below
  append(fixed, as_bytes(label));
  fixed.push_back(0x00);
  append(fixed, context);
  append_be(fixed, static_cast<uint64_t>(out_len) * 8, 4);
  crypto::SecureBytes out;
  for (uint32_t i = 1; out.size() < out_len; ++i) {
    fixed[0] = static_cast<uint8_t>(i >> 24);
    fixed[1] = static_cast<uint8_t>(i >> 16);
    fixed[2] = static_cast<uint8_t>(i >> 8);
    fixed[3] = static_cast<uint8_t>(i);
    crypto::SecureBytes block = hmac_sha256(ctx, s, key, fixed);
    size_t take = std::min(block.size(), out_len - out.size());
    out.insert(out.end(), block.begin(), block.begin() + static_cast<long>(take));
  }
  return out;
}

}  // namespace twinhsm::tpm
