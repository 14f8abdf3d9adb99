// Keys generated once per test run and shared by the PKey and signature tests (RSA generation is
// the slow part of the suite).
#pragma once

#include "crypto/pkey.h"

namespace twinhsm::crypto::test {

inline const PKey& rsa2048() {
  static const PKey key = PKey::generate_rsa(2048, {});
  return key;
}

inline const PKey& ec_key(Curve curve) {
  static const PKey p256 = PKey::generate_ec(Curve::p256);
  static const PKey p384 = PKey::generate_ec(Curve::p384);
  static const PKey p521 = PKey::generate_ec(Curve::p521);
  static const PKey ed = PKey::generate_ec(Curve::ed25519);
  switch (curve) {
    case Curve::p256:
      return p256;
    case Curve::p384:
      return p384;
    case Curve::p521:
      return p521;
    case Curve::ed25519:
      return ed;
    default:
      break;
  }
  return p256;
}

}  // namespace twinhsm::crypto::test
