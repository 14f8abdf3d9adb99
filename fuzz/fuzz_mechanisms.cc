// fuzz_mechanisms: mechanisms and their parameters through the module's real entry points, in
// process. LLVMFuzzerInitialize makes the device and token (p11_fixture.h), opens a session that
// stays open and generates in it one session key for each role a mechanism needs (keys(), below:
// AES for data, for key wrapping and for derivation, HMAC, ChaCha20, AES-XTS, RSA, EC, Ed25519
// and X25519 pairs). Each input (format: mechanism_format.h) opens a session of its own, runs one
// operation with a mechanism of the module's list (or any type) and a parameter built from the
// input, and closes the session, which destroys what the operation made.
//
// Any CK_RV is fine; a crash, a sanitizer report, a leak or a hang is a finding, and so are:
//   - an output length larger than the buffer the call was given, with CKR_OK;
//   - with kRoundTrip, an operation its partner does not undo: a decryption (of what the
//     encryption returned, same mechanism and parameter) that succeeds with another plaintext,
//     a verification of the signature just made that says CKR_SIGNATURE_INVALID, a readable key
//     unwrapped from its own wrapping with another value.
// With TWINHSM_FUZZ_STRICT=1, CKR_GENERAL_ERROR and CKR_DEVICE_ERROR also abort.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "mechanism_format.h"
#include "p11_fixture.h"

using namespace twinhsm;
using namespace twinhsm::fuzz::mechanisms;

namespace {

using fuzz::check;
using fuzz::strict_check;

// The keys: kinds[i] names the role, partners[i] the key that undoes what keys[i] does (the other
// half of a pair, or the key itself).
struct Keys {
  std::vector<CK_OBJECT_HANDLE> handles;
  std::vector<size_t> partners;
};
Keys g_keys;
CK_SESSION_HANDLE g_keeper = CK_INVALID_HANDLE;
std::vector<CK_MECHANISM_TYPE> g_mechanisms;

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_mechanisms: %s\n", what);
  std::abort();
}

// ---- the keys ------------------------------------------------------------------------------

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

struct Attrs {
  std::vector<CK_ATTRIBUTE> list;
  std::vector<std::unique_ptr<CK_ULONG>> numbers;
  Attrs& flag(CK_ATTRIBUTE_TYPE t, bool on = true) {
    list.push_back({t, on ? &kTrue : &kFalse, sizeof(CK_BBOOL)});
    return *this;
  }
  Attrs& number(CK_ATTRIBUTE_TYPE t, CK_ULONG v) {
    numbers.push_back(std::make_unique<CK_ULONG>(v));
    list.push_back({t, numbers.back().get(), sizeof(CK_ULONG)});
    return *this;
  }
  Attrs& bytes(CK_ATTRIBUTE_TYPE t, const void* p, size_t n) {
    list.push_back({t, const_cast<void*>(p), static_cast<CK_ULONG>(n)});
    return *this;
  }
};

size_t add_key(CK_OBJECT_HANDLE h) {
  g_keys.handles.push_back(h);
  g_keys.partners.push_back(g_keys.handles.size() - 1);
  return g_keys.handles.size() - 1;
}

void secret_key(CK_MECHANISM_TYPE gen, CK_ULONG len, Attrs& a) {
  CK_MECHANISM m{gen, nullptr, 0};
  if (len != 0) {
    a.number(CKA_VALUE_LEN, len);
  }
  CK_OBJECT_HANDLE h;
  check("C_GenerateKey (a fixture key)",
        C_GenerateKey(g_keeper, &m, a.list.data(), a.list.size(), &h));
  add_key(h);
}

void key_pair(CK_MECHANISM_TYPE gen, Attrs& pub, Attrs& priv) {
  CK_MECHANISM m{gen, nullptr, 0};
  CK_OBJECT_HANDLE hpub, hpriv;
  check("C_GenerateKeyPair (a fixture pair)",
        C_GenerateKeyPair(g_keeper, &m, pub.list.data(), pub.list.size(), priv.list.data(),
                          priv.list.size(), &hpub, &hpriv));
  size_t a = add_key(hpub);
  size_t b = add_key(hpriv);
  g_keys.partners[a] = b;
  g_keys.partners[b] = a;
}

void make_keys() {
  // In KeyIndex's order. Secret keys, one role each (the key policy keeps wrapping apart from
  // data).
  secret_key(CKM_AES_KEY_GEN, 32,
             Attrs().flag(CKA_ENCRYPT).flag(CKA_DECRYPT).flag(CKA_SIGN).flag(CKA_VERIFY));
  secret_key(CKM_AES_KEY_GEN, 32, Attrs().flag(CKA_WRAP).flag(CKA_UNWRAP));
  secret_key(CKM_AES_KEY_GEN, 32, Attrs().flag(CKA_DERIVE));
  secret_key(CKM_GENERIC_SECRET_KEY_GEN, 32, Attrs().flag(CKA_SIGN).flag(CKA_VERIFY));
  secret_key(CKM_GENERIC_SECRET_KEY_GEN, 32, Attrs().flag(CKA_DERIVE));
  secret_key(CKM_AES_KEY_GEN, 16, Attrs().flag(CKA_SENSITIVE, false).flag(CKA_EXTRACTABLE));
  secret_key(CKM_AES_KEY_GEN, 32, Attrs().flag(CKA_EXTRACTABLE).flag(CKA_ENCRYPT));
  secret_key(CKM_CHACHA20_KEY_GEN, 0, Attrs().flag(CKA_ENCRYPT).flag(CKA_DECRYPT));
  secret_key(CKM_AES_XTS_KEY_GEN, 64, Attrs().flag(CKA_ENCRYPT).flag(CKA_DECRYPT));
  // Pairs: public half first.
  static const CK_BYTE e[] = {0x01, 0x00, 0x01};
  auto rsa = [](CK_ATTRIBUTE_TYPE pub_use, CK_ATTRIBUTE_TYPE priv_use) {
    key_pair(CKM_RSA_PKCS_KEY_PAIR_GEN,
             Attrs()
                 .number(CKA_MODULUS_BITS, 2048)
                 .bytes(CKA_PUBLIC_EXPONENT, e, sizeof e)
                 .flag(pub_use),
             Attrs().flag(priv_use));
  };
  rsa(CKA_VERIFY, CKA_SIGN);
  rsa(CKA_ENCRYPT, CKA_DECRYPT);
  rsa(CKA_WRAP, CKA_UNWRAP);
  static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  key_pair(CKM_EC_KEY_PAIR_GEN, Attrs().bytes(CKA_EC_PARAMS, p256, sizeof p256).flag(CKA_VERIFY),
           Attrs().flag(CKA_SIGN));
  key_pair(CKM_EC_KEY_PAIR_GEN, Attrs().bytes(CKA_EC_PARAMS, p256, sizeof p256),
           Attrs().flag(CKA_DERIVE));
  static const CK_BYTE ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
  key_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN,
           Attrs().bytes(CKA_EC_PARAMS, ed25519, sizeof ed25519).flag(CKA_VERIFY),
           Attrs().flag(CKA_SIGN));
  static const CK_BYTE x25519[] = {0x06, 0x03, 0x2b, 0x65, 0x6e};
  key_pair(CKM_EC_MONTGOMERY_KEY_PAIR_GEN, Attrs().bytes(CKA_EC_PARAMS, x25519, sizeof x25519),
           Attrs().flag(CKA_DERIVE));
  if (g_keys.handles.size() != kKeyCount) {
    finding("the keys made are not those KeyIndex names (mechanism_format.h)");
  }
}

CK_OBJECT_HANDLE key(uint8_t index) {
  return g_keys.handles[index % g_keys.handles.size()];
}
CK_OBJECT_HANDLE partner(uint8_t index) {
  return g_keys.handles[g_keys.partners[index % g_keys.handles.size()]];
}

// ---- parameters from the input ---------------------------------------------------------------

// Blocks owns every buffer one input hands the module.
class Blocks {
 public:
  uint8_t* zeroed(size_t n) {
    owned_.emplace_back(new uint8_t[n == 0 ? 1 : n]());
    return owned_.back().get();
  }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> owned_;
};

uint8_t* data_block(fuzz::Input& in, Blocks& blocks) {
  ByteView bytes = in.take(in.be(2) % (kMaxData + 1));
  uint8_t* block = blocks.zeroed(kBlockSize);
  if (!bytes.empty()) {
    std::memcpy(block, bytes.data(), bytes.size());
  }
  return block;
}

// fill writes the words of one structure of the layout into out and returns their number;
// layout runs to its end or to the ']' that closes it.
size_t fill(fuzz::Input& in, Blocks& blocks, std::string_view layout, CK_ULONG* out);

// element_layout is what a '[' at layout[0] opens, without the brackets.
std::string_view element_layout(std::string_view layout) {
  int depth = 0;
  for (size_t i = 0; i < layout.size(); ++i) {
    depth += layout[i] == '[' ? 1 : layout[i] == ']' ? -1 : 0;
    if (depth == 0) {
      return layout.substr(1, i - 1);
    }
  }
  std::abort();  // an unbalanced layout in mechanism_format.h
}

size_t fill(fuzz::Input& in, Blocks& blocks, std::string_view layout, CK_ULONG* out) {
  size_t words = 0;
  for (size_t i = 0; i < layout.size(); ++i) {
    CK_ULONG& w = out[words++];
    switch (layout[i]) {
      case 'n':
        switch (in.byte() % 4) {
          case kNumberByte:
            w = in.byte();
            break;
          case kNumberLength:
            w = in.be(2) % (kMaxSlotLength + 1);
            break;
          case kNumberConstant:
            w = kConstants[in.byte() % std::size(kConstants)];
            break;
          default:
            w = key(in.byte());
            break;
        }
        break;
      case 'p':
        w = in.byte() % 2 == kPointerData ? reinterpret_cast<CK_ULONG>(data_block(in, blocks)) : 0;
        break;
      case 'r': {
        ByteView raw = in.take(sizeof w);
        w = 0;
        std::memcpy(&w, raw.data(), raw.size());
        break;
      }
      case 'b': {
        CK_BBOOL b[sizeof(CK_ULONG)] = {};
        b[0] = in.byte() & 1;
        b[1] = in.byte() & 1;
        std::memcpy(&w, b, sizeof w);
        break;
      }
      default: {  // '['
        std::string_view element = element_layout(layout.substr(i));
        i += element.size() + 1;
        uint8_t* block = blocks.zeroed(kBlockSize);
        auto* next = reinterpret_cast<CK_ULONG*>(block);
        for (size_t e = in.byte() % (kMaxElements + 1); e > 0; --e) {
          next += fill(in, blocks, element, next);
        }
        w = reinterpret_cast<CK_ULONG>(block);
        break;
      }
    }
  }
  return words;
}

struct Param {
  void* ptr = nullptr;
  CK_ULONG len = 0;
};

// read_param decodes a Param for the mechanism m (a message's, for message).
Param read_param(fuzz::Input& in, Blocks& blocks, CK_MECHANISM_TYPE m, bool message) {
  uint8_t form = in.byte() % 4;
  if (form == kParamNull) {
    return {};
  }
  if (form == kParamNullWithLength) {
    return {nullptr, in.byte()};
  }
  Layouts layouts = layouts_of(m, message);
  const char* layout = layouts.second && in.byte() % 2 ? layouts.second : layouts.first;
  std::vector<uint8_t> bytes;
  if (layout == nullptr) {
    ByteView raw = in.take(in.be(2) % (kMaxData + 1));
    bytes.assign(raw.begin(), raw.end());
  } else {
    CK_ULONG words[64] = {};
    size_t n = fill(in, blocks, layout, words);
    const auto* p = reinterpret_cast<const uint8_t*>(words);
    bytes.assign(p, p + n * sizeof(CK_ULONG));
  }
  if (form == kParamShort && !bytes.empty()) {
    bytes.resize(bytes.size() - std::min<size_t>(bytes.size(), 1 + in.byte() % 7));
  }
  // Exactly this many bytes on the heap: a structure read past them is a finding.
  uint8_t* block = blocks.zeroed(bytes.size());
  if (!bytes.empty()) {
    std::memcpy(block, bytes.data(), bytes.size());
  }
  return {block, static_cast<CK_ULONG>(bytes.size())};
}

CK_MECHANISM_TYPE read_mechanism(fuzz::Input& in) {
  uint8_t m = in.byte();
  if (m >= kRawMechanism || g_mechanisms.empty()) {
    return static_cast<CK_MECHANISM_TYPE>(in.be(4));
  }
  return g_mechanisms[m % g_mechanisms.size()];
}

// ---- outputs -----------------------------------------------------------------------------

// Out is one output buffer of exact size, and the length the module says it wrote into it.
struct Out {
  std::vector<uint8_t> bytes;
  CK_ULONG len = 0;
};

constexpr CK_ULONG kMaxOutput = 1 << 20;

// call_out runs fn(buffer, &len) by the two-call convention: with kSizeQuery a NULL buffer first,
// then a buffer of the size the module gave; else a buffer of the input's size, and once more at
// the size the module asks for when that was too small. The module may not claim more than the
// buffer holds.
template <typename Fn>
CK_RV call_out(const char* what, uint8_t flags, size_t size, Out& out, Fn fn) {
  CK_RV rv;
  if (flags & kSizeQuery) {
    out.len = 0;
    rv = strict_check(what, fn(nullptr, &out.len));
    if (rv != CKR_OK) {
      return rv;
    }
    size = out.len;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (size > kMaxOutput) {
      return CKR_HOST_MEMORY;  // more than any output of this input: not followed, nothing made
    }
    out.bytes.assign(size, 0xa5);
    out.len = size;
    // An exact heap block (a vector's data() of a zero size may be NULL: give one byte then).
    std::unique_ptr<uint8_t[]> buffer(new uint8_t[size == 0 ? 1 : size]);
    rv = strict_check(what, fn(buffer.get(), &out.len));
    if (rv == CKR_OK) {
      if (out.len > size) {
        std::fprintf(stderr, "fuzz_mechanisms: %s says it wrote %lu bytes into %zu\n", what,
                     static_cast<unsigned long>(out.len), size);
        std::abort();
      }
      out.bytes.assign(buffer.get(), buffer.get() + out.len);
      return rv;
    }
    if (rv != CKR_BUFFER_TOO_SMALL) {
      return rv;
    }
    size = out.len;
  }
  return rv;
}

// ---- templates -----------------------------------------------------------------------------

Attrs make_template(uint8_t kind) {
  static const CK_ULONG secret = CKO_SECRET_KEY, priv = CKO_PRIVATE_KEY;
  Attrs a;
  switch (kind % kTemplateCount) {
    case kTemplateAes:
      return std::move(a.bytes(CKA_CLASS, &secret, sizeof secret)
                           .number(CKA_KEY_TYPE, CKK_AES)
                           .number(CKA_VALUE_LEN, 32)
                           .flag(CKA_SENSITIVE)
                           .flag(CKA_EXTRACTABLE, false)
                           .flag(CKA_ENCRYPT));
    case kTemplateSecret:
      return std::move(a.bytes(CKA_CLASS, &secret, sizeof secret)
                           .number(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
                           .number(CKA_VALUE_LEN, 32)
                           .flag(CKA_SENSITIVE, false)
                           .flag(CKA_EXTRACTABLE));
    case kTemplateAesNoSize:
      return std::move(a.bytes(CKA_CLASS, &secret, sizeof secret).number(CKA_KEY_TYPE, CKK_AES));
    case kTemplateEmpty:
      return a;
    default:
      return std::move(
          a.bytes(CKA_CLASS, &priv, sizeof priv).number(CKA_KEY_TYPE, CKK_RSA).flag(CKA_SIGN));
  }
}

// ---- one input -----------------------------------------------------------------------------

struct Call {
  uint8_t flags = 0;
  uint8_t a = 0, b = 0;
  CK_MECHANISM mechanism{};
  ByteView data, extra;
  Param message;
  uint8_t templ = 0, parts = 1;
  size_t out_size = 0;
};

// parts_of splits data into call.parts pieces (the last takes the rest).
std::vector<ByteView> parts_of(ByteView data, uint8_t parts) {
  std::vector<ByteView> out;
  size_t step = data.size() / parts;
  for (uint8_t i = 0; i < parts; ++i) {
    size_t begin = i * step;
    size_t end = i + 1 == parts ? data.size() : begin + step;
    out.push_back(data.subspan(begin, end - begin));
  }
  return out;
}

CK_BYTE_PTR in_ptr(ByteView v) {
  return const_cast<CK_BYTE_PTR>(v.data());
}

// check_same aborts when a round trip came back different.
void check_same(const char* what, ByteView want, const Out& got) {
  if (got.len != want.size() ||
      (want.size() != 0 && std::memcmp(got.bytes.data(), want.data(), want.size()) != 0)) {
    finding(what);
  }
}

// Raw RSA pads nothing: a round trip gives the value back as long as the modulus.
bool undoes_exactly(CK_MECHANISM_TYPE m) {
  return m != CKM_RSA_X_509;
}

void decrypt_round_trip(CK_SESSION_HANDLE s, const Call& c, ByteView plain, const Out& cipher) {
  CK_MECHANISM m = c.mechanism;
  if (!undoes_exactly(m.mechanism) || C_DecryptInit(s, &m, partner(c.a)) != CKR_OK) {
    return;
  }
  Out back;
  CK_RV rv = call_out(
      "C_Decrypt (round trip)", 0, plain.size() + 64, back, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
        return C_Decrypt(s, const_cast<CK_BYTE_PTR>(cipher.bytes.data()), cipher.len, o, l);
      });
  if (rv == CKR_OK) {
    check_same("a decryption gave back another plaintext than was encrypted", plain, back);
  }
}

void encrypt(CK_SESSION_HANDLE s, const Call& c, bool in_parts) {
  CK_MECHANISM m = c.mechanism;
  if (strict_check("C_EncryptInit", C_EncryptInit(s, &m, key(c.a))) != CKR_OK) {
    return;
  }
  Out out;
  if (!in_parts) {
    CK_RV rv = call_out("C_Encrypt", c.flags, c.out_size, out, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
      return C_Encrypt(s, in_ptr(c.data), c.data.size(), o, l);
    });
    if (rv == CKR_OK && (c.flags & kRoundTrip)) {
      decrypt_round_trip(s, c, c.data, out);
    }
    return;
  }
  std::vector<uint8_t> all;
  for (ByteView part : parts_of(c.data, c.parts)) {
    CK_RV rv =
        call_out("C_EncryptUpdate", c.flags, c.out_size, out, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
          return C_EncryptUpdate(s, in_ptr(part), part.size(), o, l);
        });
    if (rv != CKR_OK) {
      return;
    }
    all.insert(all.end(), out.bytes.begin(), out.bytes.end());
  }
  CK_RV rv = call_out("C_EncryptFinal", c.flags, c.out_size, out,
                      [&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return C_EncryptFinal(s, o, l); });
  if (rv == CKR_OK && (c.flags & kRoundTrip)) {
    all.insert(all.end(), out.bytes.begin(), out.bytes.end());
    Out whole{all, static_cast<CK_ULONG>(all.size())};
    decrypt_round_trip(s, c, c.data, whole);
  }
}

void decrypt(CK_SESSION_HANDLE s, const Call& c, bool in_parts) {
  CK_MECHANISM m = c.mechanism;
  if (strict_check("C_DecryptInit", C_DecryptInit(s, &m, key(c.a))) != CKR_OK) {
    return;
  }
  Out out;
  if (!in_parts) {
    call_out("C_Decrypt", c.flags, c.out_size, out, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
      return C_Decrypt(s, in_ptr(c.data), c.data.size(), o, l);
    });
    return;
  }
  for (ByteView part : parts_of(c.data, c.parts)) {
    if (call_out("C_DecryptUpdate", c.flags, c.out_size, out, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
          return C_DecryptUpdate(s, in_ptr(part), part.size(), o, l);
        }) != CKR_OK) {
      return;
    }
  }
  call_out("C_DecryptFinal", c.flags, c.out_size, out,
           [&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return C_DecryptFinal(s, o, l); });
}

void sign(CK_SESSION_HANDLE s, const Call& c, bool in_parts) {
  CK_MECHANISM m = c.mechanism;
  if (strict_check("C_SignInit", C_SignInit(s, &m, key(c.a))) != CKR_OK) {
    return;
  }
  Out sig;
  CK_RV rv;
  if (!in_parts) {
    rv = call_out("C_Sign", c.flags, c.out_size, sig, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
      return C_Sign(s, in_ptr(c.data), c.data.size(), o, l);
    });
  } else {
    for (ByteView part : parts_of(c.data, c.parts)) {
      if (strict_check("C_SignUpdate", C_SignUpdate(s, in_ptr(part), part.size())) != CKR_OK) {
        return;
      }
    }
    rv = call_out("C_SignFinal", c.flags, c.out_size, sig,
                  [&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return C_SignFinal(s, o, l); });
  }
  if (rv != CKR_OK || !(c.flags & kRoundTrip) || !undoes_exactly(m.mechanism) ||
      C_VerifyInit(s, &m, partner(c.a)) != CKR_OK) {
    return;
  }
  rv = C_Verify(s, in_ptr(c.data), c.data.size(), sig.bytes.data(), sig.len);
  if (rv == CKR_SIGNATURE_INVALID) {
    finding("a signature just made does not verify with the partner key");
  }
}

void verify(CK_SESSION_HANDLE s, const Call& c, bool in_parts) {
  CK_MECHANISM m = c.mechanism;
  if (strict_check("C_VerifyInit", C_VerifyInit(s, &m, key(c.a))) != CKR_OK) {
    return;
  }
  if (!in_parts) {
    strict_check("C_Verify",
                 C_Verify(s, in_ptr(c.data), c.data.size(), in_ptr(c.extra), c.extra.size()));
    return;
  }
  for (ByteView part : parts_of(c.data, c.parts)) {
    if (strict_check("C_VerifyUpdate", C_VerifyUpdate(s, in_ptr(part), part.size())) != CKR_OK) {
      return;
    }
  }
  strict_check("C_VerifyFinal", C_VerifyFinal(s, in_ptr(c.extra), c.extra.size()));
}

void digest(CK_SESSION_HANDLE s, const Call& c, bool in_parts) {
  CK_MECHANISM m = c.mechanism;
  if (strict_check("C_DigestInit", C_DigestInit(s, &m)) != CKR_OK) {
    return;
  }
  Out out;
  if (!in_parts) {
    call_out("C_Digest", c.flags, c.out_size, out, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
      return C_Digest(s, in_ptr(c.data), c.data.size(), o, l);
    });
    return;
  }
  for (ByteView part : parts_of(c.data, c.parts)) {
    if (strict_check("C_DigestUpdate", C_DigestUpdate(s, in_ptr(part), part.size())) != CKR_OK) {
      return;
    }
  }
  if (c.flags & kRoundTrip && strict_check("C_DigestKey", C_DigestKey(s, key(c.b))) != CKR_OK) {
    return;
  }
  call_out("C_DigestFinal", c.flags, c.out_size, out,
           [&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return C_DigestFinal(s, o, l); });
}

// value reads a key's CKA_VALUE (empty when it has none or may not say).
std::vector<uint8_t> value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
  uint8_t v[512];
  CK_ATTRIBUTE a{CKA_VALUE, v, sizeof v};
  if (C_GetAttributeValue(s, h, &a, 1) != CKR_OK || a.ulValueLen > sizeof v) {
    return {};
  }
  return {v, v + a.ulValueLen};
}

void wrap(CK_SESSION_HANDLE s, const Call& c) {
  CK_MECHANISM m = c.mechanism;
  Out blob;
  CK_RV rv = call_out("C_WrapKey", c.flags, c.out_size, blob, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
    return C_WrapKey(s, &m, key(c.a), key(c.b), o, l);
  });
  if (rv != CKR_OK || !(c.flags & kRoundTrip) || !undoes_exactly(m.mechanism)) {
    return;
  }
  Attrs t = make_template(c.templ);
  CK_OBJECT_HANDLE h;
  if (strict_check("C_UnwrapKey (round trip)",
                   C_UnwrapKey(s, &m, partner(c.a), blob.bytes.data(), blob.len, t.list.data(),
                               t.list.size(), &h)) != CKR_OK) {
    return;
  }
  // Compared where both values can be read (a readable key wrapped, a readable template).
  std::vector<uint8_t> want = value(s, key(c.b)), got = value(s, h);
  if (!want.empty() && want.size() == got.size() && want != got) {
    finding("a key unwrapped from its own wrapping has another value");
  }
}

void unwrap(CK_SESSION_HANDLE s, const Call& c) {
  CK_MECHANISM m = c.mechanism;
  Attrs t = make_template(c.templ);
  CK_OBJECT_HANDLE h;
  strict_check("C_UnwrapKey", C_UnwrapKey(s, &m, key(c.a), in_ptr(c.extra), c.extra.size(),
                                          t.list.data(), t.list.size(), &h));
}

void derive(CK_SESSION_HANDLE s, const Call& c) {
  CK_MECHANISM m = c.mechanism;
  Attrs t = make_template(c.templ);
  CK_OBJECT_HANDLE h;
  strict_check("C_DeriveKey", C_DeriveKey(s, &m, key(c.a), t.list.data(), t.list.size(), &h));
}

void generate(CK_SESSION_HANDLE s, const Call& c) {
  CK_MECHANISM m = c.mechanism;
  Attrs t = make_template(c.templ);
  CK_OBJECT_HANDLE h;
  strict_check("C_GenerateKey", C_GenerateKey(s, &m, t.list.data(), t.list.size(), &h));
}

// A message operation: one message whole, or in parts (Begin + Next...), with c.message as each
// call's parameter and c.extra as the additional data.
void encrypt_message(CK_SESSION_HANDLE s, const Call& c, bool in_parts) {
  CK_MECHANISM m = c.mechanism;
  if (strict_check("C_MessageEncryptInit", C_MessageEncryptInit(s, &m, key(c.a))) != CKR_OK) {
    return;
  }
  Out out;
  if (!in_parts) {
    CK_RV rv =
        call_out("C_EncryptMessage", c.flags, c.out_size, out, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
          return C_EncryptMessage(s, c.message.ptr, c.message.len, in_ptr(c.extra), c.extra.size(),
                                  in_ptr(c.data), c.data.size(), o, l);
        });
    C_MessageEncryptFinal(s);
    if (rv != CKR_OK || !(c.flags & kRoundTrip) ||
        C_MessageDecryptInit(s, &m, partner(c.a)) != CKR_OK) {
      return;
    }
    Out back;
    rv = call_out("C_DecryptMessage (round trip)", 0, c.data.size() + 64, back,
                  [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
                    return C_DecryptMessage(s, c.message.ptr, c.message.len, in_ptr(c.extra),
                                            c.extra.size(), out.bytes.data(), out.len, o, l);
                  });
    C_MessageDecryptFinal(s);
    if (rv == CKR_OK) {
      check_same("a message decryption gave back another plaintext", c.data, back);
    }
    return;
  }
  if (strict_check("C_EncryptMessageBegin",
                   C_EncryptMessageBegin(s, c.message.ptr, c.message.len, in_ptr(c.extra),
                                         c.extra.size())) == CKR_OK) {
    std::vector<ByteView> parts = parts_of(c.data, c.parts);
    for (size_t i = 0; i < parts.size(); ++i) {
      CK_FLAGS end = i + 1 == parts.size() ? CKF_END_OF_MESSAGE : 0;
      if (call_out("C_EncryptMessageNext", c.flags, c.out_size, out,
                   [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
                     return C_EncryptMessageNext(s, c.message.ptr, c.message.len, in_ptr(parts[i]),
                                                 parts[i].size(), o, l, end);
                   }) != CKR_OK) {
        break;
      }
    }
  }
  C_MessageEncryptFinal(s);
}

void decrypt_message(CK_SESSION_HANDLE s, const Call& c) {
  CK_MECHANISM m = c.mechanism;
  if (strict_check("C_MessageDecryptInit", C_MessageDecryptInit(s, &m, key(c.a))) != CKR_OK) {
    return;
  }
  Out out;
  call_out("C_DecryptMessage", c.flags, c.out_size, out, [&](CK_BYTE_PTR o, CK_ULONG_PTR l) {
    return C_DecryptMessage(s, c.message.ptr, c.message.len, in_ptr(c.extra), c.extra.size(),
                            in_ptr(c.data), c.data.size(), o, l);
  });
  C_MessageDecryptFinal(s);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_module();
  g_keeper = fuzz::open_user_session();
  make_keys();
  CK_ULONG n = 0;
  check("C_GetMechanismList", C_GetMechanismList(fuzz::kSlot, nullptr, &n));
  g_mechanisms.resize(n);
  check("C_GetMechanismList", C_GetMechanismList(fuzz::kSlot, g_mechanisms.data(), &n));
  g_mechanisms.resize(n);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  Blocks blocks;
  uint8_t op = in.byte() % kOpCount;
  Call c;
  c.flags = in.byte();
  c.a = in.byte();
  c.b = in.byte();
  c.mechanism.mechanism = read_mechanism(in);
  Param p = read_param(in, blocks, c.mechanism.mechanism, false);
  c.mechanism.pParameter = p.ptr;
  c.mechanism.ulParameterLen = p.len;
  c.data = in.take(in.be(2) % (kMaxData + 1));
  c.extra = in.take(in.be(2) % (kMaxData + 1));
  c.message = read_param(in, blocks, c.mechanism.mechanism, true);
  c.templ = in.byte();
  c.parts = in.byte() % 8 + 1;
  c.out_size = in.be(2) % 8193;

  // A session of this input: closing it destroys every object the operation made.
  CK_SESSION_HANDLE s = fuzz::open_user_session();
  switch (op) {
    case kEncrypt:
    case kEncryptParts:
      encrypt(s, c, op == kEncryptParts);
      break;
    case kDecrypt:
    case kDecryptParts:
      decrypt(s, c, op == kDecryptParts);
      break;
    case kSign:
    case kSignParts:
      sign(s, c, op == kSignParts);
      break;
    case kVerify:
    case kVerifyParts:
      verify(s, c, op == kVerifyParts);
      break;
    case kDigest:
    case kDigestParts:
      digest(s, c, op == kDigestParts);
      break;
    case kWrap:
      wrap(s, c);
      break;
    case kUnwrap:
      unwrap(s, c);
      break;
    case kDerive:
      derive(s, c);
      break;
    case kGenerateKey:
      generate(s, c);
      break;
    case kEncryptMessage:
    case kEncryptMessageParts:
      encrypt_message(s, c, op == kEncryptMessageParts);
      break;
    case kDecryptMessage:
      decrypt_message(s, c);
      break;
  }
  check("C_CloseSession", C_CloseSession(s));
  return 0;
}
