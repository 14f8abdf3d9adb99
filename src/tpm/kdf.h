// The SP 800-108 KDF in counter mode computed by the TPM: TPM2_HMAC with an HMAC key object is
// the PRF, over exactly the input crypto::kbkdf_counter_hmac_sha256 gives OpenSSL's KBKDF:
//
//   K(i)   = HMAC-SHA256(key, [i]_32 || label || 0x00 || context || [8·L]_32)   i = 1, 2, ...
//   output = the first L bytes of K(1) || K(2) || ...
//
// so a key derived inside the TPM equals the one a file device derives from the same key bytes
// (tests/tpm/tpm_library_test.cc shows it).
#pragma once

#include <string_view>

#include "tpm/objects.h"

namespace twinhsm::tpm {

// kbkdf_counter_hmac_sha256 derives out_len bytes (1 to 1024) with key, an HMAC key object.
crypto::SecureBytes kbkdf_counter_hmac_sha256(Context& ctx, Session& s, const Object& key,
                                              std::string_view label, ByteView context,
                                              size_t out_len);

}  // namespace twinhsm::tpm
