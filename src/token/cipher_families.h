// Internal to the token's ciphers (ciphers.cc dispatches, aead_ciphers.cc): the AEAD family.
#pragma once

#include <memory>

#include "token/mechanisms.h"

namespace twinhsm::token {

// make_aead: CKM_AES_GCM and CKM_AES_CCM with an AES key, CKM_CHACHA20_POLY1305 with a ChaCha20
// key; the output (encrypting) is ciphertext || tag, the input (decrypting) likewise.
std::unique_ptr<CipherOperation> make_aead(const Mechanism& mechanism, const AttributeMap& key,
                                           bool encrypt);

// concat appends b to a.
inline SecureBytes concat(SecureBytes a, const SecureBytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace twinhsm::token
