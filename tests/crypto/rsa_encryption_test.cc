// RSA-OAEP (SHA-1 and SHA-256, with and without a label) and RSA PKCS#1 v1.5 encryption: round
// trips with the shared 2048-bit test key, length limits, and every way decryption must fail.
#include "crypto/rsa_encryption.h"

#include <gtest/gtest.h>

#include "test_keys.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::bytes_of;
using test::plain;

RsaPadding oaep(DigestAlg hash, Bytes label = {}) {
  return RsaPadding{RsaPadding::Kind::oaep, hash, hash, std::move(label)};
}
const RsaPadding kPkcs1{RsaPadding::Kind::pkcs1, DigestAlg::sha1, DigestAlg::sha1, {}};

TEST(RsaEncryption, MaxPlaintext) {
  const PKey& key = test::rsa2048();
  EXPECT_EQ(rsa_max_plaintext(key, kPkcs1), 256u - 11);
  EXPECT_EQ(rsa_max_plaintext(key, oaep(DigestAlg::sha1)), 256u - 42);
  EXPECT_EQ(rsa_max_plaintext(key, oaep(DigestAlg::sha256)), 256u - 66);
  EXPECT_THROW(rsa_max_plaintext(test::ec_key(Curve::p256), kPkcs1), UsageError);
}

TEST(RsaEncryption, RoundTrips) {
  const PKey& key = test::rsa2048();
  PKey pub = PKey::rsa_public(key.rsa_public_components());
  for (const RsaPadding& p : {kPkcs1, oaep(DigestAlg::sha1), oaep(DigestAlg::sha256),
                              oaep(DigestAlg::sha256, bytes_of("a label"))}) {
    SCOPED_TRACE(static_cast<int>(p.kind) * 10 + static_cast<int>(p.oaep_hash));
    for (size_t n : {size_t{0}, size_t{1}, size_t{32}, rsa_max_plaintext(key, p)}) {
      Bytes msg(n, 0xa5);
      Bytes ct = rsa_encrypt(pub, p, msg);
      ASSERT_EQ(ct.size(), 256u);
      EXPECT_EQ(plain(rsa_decrypt(key, p, ct)), msg) << n;
      // Randomized padding: two encryptions differ.
      EXPECT_NE(rsa_encrypt(pub, p, msg), ct);
    }
    Bytes too_long(rsa_max_plaintext(key, p) + 1, 1);
    EXPECT_THROW(rsa_encrypt(pub, p, too_long), UsageError);
  }
}

TEST(RsaEncryption, DecryptionFailures) {
  const PKey& key = test::rsa2048();
  Bytes msg = bytes_of("thirty-two bytes of key material");
  RsaPadding sha256 = oaep(DigestAlg::sha256, bytes_of("label"));
  Bytes ct = rsa_encrypt(key, sha256, msg);
  // Another label, hash or padding.
  EXPECT_THROW(rsa_decrypt(key, oaep(DigestAlg::sha256, bytes_of("other")), ct), IntegrityError);
  EXPECT_THROW(rsa_decrypt(key, oaep(DigestAlg::sha256), ct), IntegrityError);
  EXPECT_THROW(rsa_decrypt(key, oaep(DigestAlg::sha1, bytes_of("label")), ct), IntegrityError);
  EXPECT_THROW(rsa_decrypt(key, kPkcs1, ct), IntegrityError);
  // Altered ciphertext, and a value not below the modulus.
  Bytes bad = ct;
  bad[100] ^= 0x40;
  EXPECT_THROW(rsa_decrypt(key, sha256, bad), IntegrityError);
  EXPECT_THROW(rsa_decrypt(key, sha256, Bytes(256, 0xff)), IntegrityError);
  // Lengths and keys.
  EXPECT_THROW(rsa_decrypt(key, sha256, ByteView(ct).first(255)), UsageError);
  EXPECT_THROW(rsa_decrypt(PKey::rsa_public(key.rsa_public_components()), sha256, ct), UsageError);
  EXPECT_THROW(rsa_encrypt(test::ec_key(Curve::p256), sha256, msg), UsageError);
  Bytes v15 = rsa_encrypt(key, kPkcs1, msg);
  EXPECT_THROW(rsa_decrypt(key, sha256, v15), IntegrityError);
}

}  // namespace
}  // namespace twinhsm::crypto
