// Random bytes from the DRBGs of twinhsm's library context, through EVP_RAND: RAND_bytes and
// RAND_bytes_ex would first ask for a RAND_METHOD, which an ENGINE that the application made the
// default would supply.
#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

// Seeds are mixed in chunks: a DRBG caps its additional input.
constexpr size_t kChunk = 1u << 30;

// drbg returns this thread's public or private DRBG of the library context.
EVP_RAND_CTX* drbg(bool secret) {
  OSSL_LIB_CTX* ctx = detail::libctx();
  return detail::not_null(secret ? RAND_get0_private(ctx) : RAND_get0_public(ctx),
                          "random number generator unavailable");
}

void fill(std::span<uint8_t> out, bool secret) {
  if (out.empty()) {
    return;
  }
  // EVP_RAND_generate serves a long request in chunks of the DRBG's largest.
  detail::check(EVP_RAND_generate(drbg(secret), out.data(), out.size(), 0, 0, nullptr, 0),
                "random number generator failed");
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
  // The caller's bytes are mixed into the primary DRBG (from which the public and private ones
  // reseed) as additional input, credited with no entropy: they are not trusted to be
  // unpredictable, and the DRBG is already seeded from the operating system.
  EVP_RAND_CTX* primary =
      detail::not_null(RAND_get0_primary(detail::libctx()), "random number generator unavailable");
  for (size_t done = 0; done < seed.size();) {
    size_t n = std::min(kChunk, seed.size() - done);
    detail::check(EVP_RAND_reseed(primary, 0, nullptr, 0, seed.data() + done, n),
                  "random number generator reseed failed");
    done += n;
  }
}

}  // namespace twinhsm::crypto
