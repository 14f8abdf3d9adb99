// AES-ECB, AES-CBC and AES-CTR: the AES-256 examples of NIST SP 800-38A appendix F (F.1.5/F.1.6,
// F.2.5/F.2.6, F.5.5/F.5.6), whole and in parts; CBC with PKCS#7 padding: round trips, lengths,
// malformed padding; CTR counter-wrap arithmetic.
#include "crypto/cipher.h"

#include <gtest/gtest.h>

#include <limits>

#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using test::plain;

// NIST SP 800-38A, appendix F: the four-block plaintext and the AES-256 key of every example.
const Bytes kPlain =
    hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
const Bytes kKey256 = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");

struct Sp80038aCase {
  const char* name;
  CipherMode mode;
  const char* iv;
  const char* ciphertext;
};

const Sp80038aCase kCases[] = {
    // F.1.5 ECB-AES256.Encrypt / F.1.6 ECB-AES256.Decrypt
    {"ECB-AES256", CipherMode::ecb, "",
     "f3eed1bdb5d2a03c064b5a7e3db181f8591ccb10d410ed26dc5ba74a31362870"
     "b6ed21b99ca6f4f9f153e7b1beafed1d23304b7a39f9f3ff067d8d8f9e24ecc7"},
    // F.2.5 CBC-AES256.Encrypt / F.2.6 CBC-AES256.Decrypt
    {"CBC-AES256", CipherMode::cbc, "000102030405060708090a0b0c0d0e0f",
     "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
     "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
    // F.5.5 CTR-AES256.Encrypt / F.5.6 CTR-AES256.Decrypt
    {"CTR-AES256", CipherMode::ctr, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
     "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"},
};

Bytes run(SymmetricCipher& c, ByteView in) {
  Bytes out = plain(c.update(in));
  Bytes rest = plain(c.finish());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// run_in_parts feeds in in pieces of the given sizes (cycling), checking each update's length.
Bytes run_in_parts(SymmetricCipher& c, ByteView in, std::initializer_list<size_t> sizes) {
  Bytes out;
  size_t off = 0;
  auto it = sizes.begin();
  while (off < in.size()) {
    size_t n = std::min(*it, in.size() - off);
    size_t expected = c.update_size(n);
    SecureBytes part = c.update(in.subspan(off, n));
    EXPECT_EQ(part.size(), expected);
    out.insert(out.end(), part.begin(), part.end());
    off += n;
    if (++it == sizes.end()) {
      it = sizes.begin();
    }
  }
  size_t bound = c.finish_size();
  SecureBytes last = c.finish();
  EXPECT_LE(last.size(), bound);
  out.insert(out.end(), last.begin(), last.end());
  return out;
}

TEST(SymmetricCipher, Sp80038aAes256) {
  for (const auto& tc : kCases) {
    SCOPED_TRACE(tc.name);
    Bytes iv = hex(tc.iv);
    Bytes ct = hex(tc.ciphertext);
    SymmetricCipher enc(tc.mode, kKey256, iv, true, false);
    EXPECT_EQ(to_hex(run(enc, kPlain)), to_hex(ct));
    SymmetricCipher dec(tc.mode, kKey256, iv, false, false);
    EXPECT_EQ(run(dec, ct), kPlain);
  }
}

TEST(SymmetricCipher, Sp80038aInParts) {
  for (const auto& tc : kCases) {
    SCOPED_TRACE(tc.name);
    Bytes iv = hex(tc.iv);
    Bytes ct = hex(tc.ciphertext);
    SymmetricCipher enc(tc.mode, kKey256, iv, true, false);
    EXPECT_EQ(to_hex(run_in_parts(enc, kPlain, {1, 15, 17, 0, 31})), to_hex(ct));
    SymmetricCipher dec(tc.mode, kKey256, iv, false, false);
    EXPECT_EQ(run_in_parts(dec, ct, {7, 16, 33}), kPlain);
  }
}

TEST(SymmetricCipher, UpdateReturnsWholeBlocks) {
  SymmetricCipher ecb(CipherMode::ecb, kKey256, {}, true, false);
  EXPECT_EQ(ecb.update(ByteView(kPlain).first(10)).size(), 0u);
  EXPECT_EQ(ecb.buffered(), 10u);
  EXPECT_EQ(ecb.update_size(6), 16u);
  EXPECT_EQ(ecb.update(ByteView(kPlain).subspan(10, 6)).size(), 16u);
  EXPECT_EQ(ecb.buffered(), 0u);
  SymmetricCipher ctr(CipherMode::ctr, kKey256, hex(kCases[2].iv), true, false);
  EXPECT_EQ(ctr.update(ByteView(kPlain).first(5)).size(), 5u);
  EXPECT_EQ(ctr.finish_size(), 0u);
}

TEST(SymmetricCipher, PartialBlockWithoutPaddingFails) {
  for (CipherMode mode : {CipherMode::ecb, CipherMode::cbc}) {
    Bytes iv = mode == CipherMode::cbc ? Bytes(16, 0) : Bytes();
    SymmetricCipher enc(mode, kKey256, iv, true, false);
    enc.update(ByteView(kPlain).first(20));
    EXPECT_THROW(enc.finish(), UsageError);
    SymmetricCipher dec(mode, kKey256, iv, false, false);
    dec.update(ByteView(kPlain).first(15));
    EXPECT_THROW(dec.finish(), UsageError);
  }
  // CTR is a stream: any length.
  SymmetricCipher ctr(CipherMode::ctr, kKey256, Bytes(16, 0), true, false);
  EXPECT_EQ(run(ctr, ByteView(kPlain).first(7)).size(), 7u);
}

TEST(SymmetricCipher, CbcPadRoundTrips) {
  Bytes iv = hex("000102030405060708090a0b0c0d0e0f");
  for (size_t n : {0, 1, 15, 16, 17, 31, 32, 33, 64}) {
    SCOPED_TRACE(n);
    Bytes msg(kPlain.begin(), kPlain.begin() + static_cast<long>(std::min(n, kPlain.size())));
    msg.resize(n, 0x5a);
    SymmetricCipher enc(CipherMode::cbc, kKey256, iv, true, true);
    Bytes ct = run_in_parts(enc, msg, {5, 16});
    ASSERT_EQ(ct.size(), (n / 16 + 1) * 16);  // PKCS#7 always adds 1..16 bytes
    // The padded message's first blocks are plain CBC of the same bytes.
    if (n >= 16) {
      SymmetricCipher raw(CipherMode::cbc, kKey256, iv, true, false);
      EXPECT_EQ(plain(raw.update(ByteView(msg).first(16))), Bytes(ct.begin(), ct.begin() + 16));
    }
    SymmetricCipher dec(CipherMode::cbc, kKey256, iv, false, true);
    EXPECT_EQ(run_in_parts(dec, ct, {1, 16, 3}), msg);
  }
}

TEST(SymmetricCipher, CbcPadDecryptHoldsBackTheLastBlock) {
  Bytes iv(16, 1);
  SymmetricCipher enc(CipherMode::cbc, kKey256, iv, true, true);
  Bytes ct = run(enc, kPlain);  // 64 bytes + a block of padding
  ASSERT_EQ(ct.size(), 80u);
  SymmetricCipher dec(CipherMode::cbc, kKey256, iv, false, true);
  EXPECT_EQ(dec.update_size(16), 0u);
  EXPECT_EQ(dec.update(ByteView(ct).first(16)).size(), 0u);
  EXPECT_EQ(dec.buffered(), 16u);
  EXPECT_EQ(dec.update_size(64), 64u);
  EXPECT_EQ(dec.update(ByteView(ct).subspan(16)).size(), 64u);
  EXPECT_EQ(dec.finish_size(), 15u);
  EXPECT_EQ(dec.finish().size(), 0u);  // the last block was all padding
}

TEST(SymmetricCipher, CbcPadRejectsMalformedPadding) {
  Bytes iv(16, 2);
  // Ciphertexts of blocks whose last bytes are not valid PKCS#7 padding, made with unpadded CBC.
  for (const Bytes& last_block :
       {Bytes(16, 0x00), Bytes(16, 0x11), hex("000102030405060708090a0b0c0d0e03"),
        hex("0000000000000000000000000000020f")}) {
    SymmetricCipher raw(CipherMode::cbc, kKey256, iv, true, false);
    Bytes ct = run(raw, last_block);
    SymmetricCipher dec(CipherMode::cbc, kKey256, iv, false, true);
    dec.update(ct);
    EXPECT_THROW(dec.finish(), IntegrityError) << to_hex(last_block);
  }
  // A ciphertext that is not whole blocks, or empty.
  SymmetricCipher dec(CipherMode::cbc, kKey256, iv, false, true);
  dec.update(ByteView(kPlain).first(20));
  EXPECT_THROW(dec.finish(), UsageError);
  SymmetricCipher empty(CipherMode::cbc, kKey256, iv, false, true);
  EXPECT_THROW(empty.finish(), UsageError);
}

// run_into writes what update + finish return, straight into the caller's buffer: CBC with
// padding (encryption), ECB, CBC and CTR without, AES and Triple DES, lengths around the blocks.
TEST(SymmetricCipher, RunIntoMatchesUpdateAndFinish) {
  struct Case {
    BlockCipher alg;
    CipherMode mode;
    bool encrypt, padding;
  };
  for (Case c : {Case{BlockCipher::aes, CipherMode::cbc, true, true},
                 Case{BlockCipher::aes, CipherMode::cbc, true, false},
                 Case{BlockCipher::aes, CipherMode::cbc, false, false},
                 Case{BlockCipher::aes, CipherMode::ecb, true, true},
                 Case{BlockCipher::aes, CipherMode::ecb, false, false},
                 Case{BlockCipher::aes, CipherMode::ctr, true, false},
                 Case{BlockCipher::des3, CipherMode::cbc, true, true}}) {
    size_t block = block_size(c.alg);
    Bytes key = c.alg == BlockCipher::aes ? kKey256 : Bytes(kKey256.begin(), kKey256.begin() + 24);
    Bytes iv = c.mode == CipherMode::ecb ? Bytes{} : Bytes(block, 7);
    for (size_t n : {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 1000, 4096}) {
      bool whole = n % block == 0 || c.mode == CipherMode::ctr;
      if (!whole && !c.padding) {
        continue;
      }
      SCOPED_TRACE(std::to_string(static_cast<int>(c.alg)) + "/" +
                   std::to_string(static_cast<int>(c.mode)) + "/" + std::to_string(c.encrypt) +
                   "/" + std::to_string(c.padding) + " n=" + std::to_string(n));
      Bytes msg(n);
      for (size_t i = 0; i < n; ++i) {
        msg[i] = static_cast<uint8_t>(i * 31 + 5);
      }
      SymmetricCipher ref(c.alg, c.mode, key, iv, c.encrypt, c.padding);
      Bytes expected = run(ref, msg);
      SymmetricCipher direct(c.alg, c.mode, key, iv, c.encrypt, c.padding);
      Bytes out(expected.size() + 3, 0xee);
      direct.run_into(msg, std::span<uint8_t>(out).first(expected.size()));
      EXPECT_EQ(Bytes(out.begin(), out.begin() + static_cast<long>(expected.size())), expected);
      EXPECT_EQ(out[expected.size()], 0xee);  // nothing past the output
    }
  }
}

TEST(SymmetricCipher, RunIntoRefusals) {
  Bytes iv(16, 3);
  Bytes out(64);
  // A partial block without padding, an output of the wrong length, decryption with padding, a
  // cipher already updated.
  SymmetricCipher partial(CipherMode::cbc, kKey256, iv, true, false);
  EXPECT_THROW(partial.run_into(ByteView(kPlain).first(20), std::span<uint8_t>(out).first(20)),
               UsageError);
  SymmetricCipher wrong(CipherMode::cbc, kKey256, iv, true, true);
  EXPECT_THROW(wrong.run_into(ByteView(kPlain).first(32), std::span<uint8_t>(out).first(32)),
               UsageError);
  SymmetricCipher padded(CipherMode::cbc, kKey256, iv, false, true);
  EXPECT_THROW(padded.run_into(ByteView(kPlain).first(32), std::span<uint8_t>(out).first(16)),
               UsageError);
  SymmetricCipher updated(CipherMode::cbc, kKey256, iv, true, true);
  updated.update(ByteView(kPlain).first(5));
  EXPECT_THROW(updated.run_into(ByteView(kPlain).first(16), std::span<uint8_t>(out).first(32)),
               UsageError);
}

TEST(SymmetricCipher, BadParameters) {
  EXPECT_THROW(SymmetricCipher(CipherMode::cbc, Bytes(15, 0), Bytes(16, 0), true, false),
               CryptoError);
  EXPECT_THROW(SymmetricCipher(CipherMode::cbc, kKey256, Bytes(8, 0), true, false), CryptoError);
  EXPECT_THROW(SymmetricCipher(CipherMode::ecb, kKey256, Bytes(16, 0), true, false), CryptoError);
  EXPECT_THROW(SymmetricCipher(CipherMode::ctr, kKey256, Bytes(16, 0), true, true), CryptoError);
  SymmetricCipher c(CipherMode::ecb, kKey256, {}, true, false);
  c.finish();
  EXPECT_THROW(c.update(kPlain), UsageError);
}

TEST(CtrBlocksLeft, CounterArithmetic) {
  Bytes cb(16, 0);
  EXPECT_EQ(ctr_blocks_left(cb, 8), 256u);
  cb[15] = 0xff;
  EXPECT_EQ(ctr_blocks_left(cb, 8), 1u);
  EXPECT_EQ(ctr_blocks_left(cb, 9), 257u);
  cb[14] = 0xff;
  EXPECT_EQ(ctr_blocks_left(cb, 16), 1u);
  EXPECT_EQ(ctr_blocks_left(cb, 32), (uint64_t{1} << 32) - 0xffff);
  Bytes ones(16, 0xff);
  EXPECT_EQ(ctr_blocks_left(ones, 64), 1u);
  EXPECT_EQ(ctr_blocks_left(ones, 128), 1u);
  Bytes high_zero = ones;
  high_zero[0] = 0x7f;  // bit 127 clear: a 128-bit counter has 2^127 + 1 blocks left
  EXPECT_EQ(ctr_blocks_left(high_zero, 128), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(ctr_blocks_left(high_zero, 127), 1u);
  EXPECT_THROW(ctr_blocks_left(cb, 0), UsageError);
  EXPECT_THROW(ctr_blocks_left(cb, 129), UsageError);
}

}  // namespace
}  // namespace twinhsm::crypto
