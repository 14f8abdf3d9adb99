// Random bytes from OpenSSL's DRBG.
#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

// The RAND_* calls take an int length: larger requests are served in chunks.
constexpr size_t kChunk = 1u << 30;

void fill(std::span<uint8_t> out, bool secret) {
  size_t done = 0;
  while (done < out.size()) {
    size_t n = std::min(kChunk, out.size() - done);
    int len = static_cast<int>(n);
    int rc = secret ? RAND_priv_bytes(out.data() + done, len) : RAND_bytes(out.data() + done, len);
    if (rc != 1) {
      detail::throw_openssl("random number generator failed");
    }
    done += n;
  }
}

}  // namespace

SecureBytes random_secret(size_t n) {
  SecureBytes out(n);
  fill(out, true);
  return out;
}

Bytes random_bytes(size_t n) {
  Bytes out(n);
  fill(out, false);
  return out;
}

void random_fill(std::span<uint8_t> out) {
  fill(out, false);
}

void seed_random(ByteView seed) {
  size_t done = 0;
  while (done < seed.size()) {
    size_t n = std::min(kChunk, seed.size() - done);
    // The caller's bytes are mixed in but credited with no entropy: they are not trusted to be
    // unpredictable, and the DRBG is already seeded from the operating system.
    RAND_add(seed.data() + done, static_cast<int>(n), 0.0);
    done += n;
  }
}

}  // namespace twinhsm::crypto
