// Hostile inputs through the PKCS#11 3.0 function list, one group per kind: NULL pointers,
// lengths and counts that lie, huge templates, attribute values of the wrong size, handles from
// another session or slot, calls after C_Finalize, and re-entrant or concurrent C_Initialize.
// Each call must answer a code PKCS#11 3.0 allows for that function (the one it names, or exactly
// the two or three it allows), must not crash or hang, and must leave the token unchanged and
// usable (the same objects, and signing, verifying, encrypting still work).
//
// Buffers handed to the module are heap blocks exactly as long as the call claims (or exactly as
// long as they really are, when the call lies), so that a build with ASan catches any read or
// write past them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

namespace twinhsm::test {
namespace {

namespace fs = std::filesystem;

constexpr CK_ULONG kAbsurdCount = CK_ULONG{1} << 40;
constexpr CK_ULONG kAbsurdLength = CK_ULONG{1} << 62;
constexpr CK_FLAGS kAllOperations = CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_VERIFY |
                                    CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MESSAGE_SIGN |
                                    CKF_MESSAGE_VERIFY;
constexpr CK_FLAGS kRwSession = CKF_SERIAL_SESSION | CKF_RW_SESSION;

using Codes = std::vector<CK_RV>;

std::string names(const Codes& codes) {
  std::string out;
  for (CK_RV rv : codes) {
    out += (out.empty() ? "" : " or ") + rv_name(rv);
  }
  return out;
}

bool allowed(const Codes& codes, CK_RV rv) {
  return std::find(codes.begin(), codes.end(), rv) != codes.end();
}

// EXPECT_CKR_IN(expr, CKR_A, CKR_B): expr answers one of the codes PKCS#11 allows there.
#define EXPECT_CKR_IN(expr, ...)                                                       \
  do {                                                                                 \
    const Codes ok_codes_{__VA_ARGS__};                                                \
    const CK_RV rv_ = (expr);                                                          \
    EXPECT_TRUE(allowed(ok_codes_, rv_))                                               \
        << #expr << " returned " << rv_name(rv_) << ", expected " << names(ok_codes_); \
  } while (0)

// Case is one hostile call. When init is set, it starts the operation the call continues; the
// call's error must then have ended that operation (PKCS#11 3.0: an error other than
// CKR_BUFFER_TOO_SMALL terminates the active operation), so init succeeds again afterwards.
using Init = std::function<CK_RV()>;
struct Case {
  std::string name;
  Init init;
  std::function<CK_RV()> call;
  Codes codes;
};

// HOSTILE_CASE(init, C_Function(arguments), codes...): a Case calling f()->C_Function(arguments),
// named as written.
#define HOSTILE_CASE(init, call, ...)               \
  Case {                                            \
#call, init, [&] { return f()->call; }, Codes { \
      __VA_ARGS__                                   \
    }                                               \
  }

struct KeyPair {
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
};

// prefix gives the first n bytes of v, zero-padded past its end, in a heap block of exactly n
// bytes: a mechanism parameter whose length lies.
template <class T>
Bytes prefix(const T& v, size_t n) {
  Bytes out(n, 0);
  if (n != 0) {
    std::memcpy(out.data(), &v, std::min(n, sizeof v));
  }
  return out;
}

CK_UTF8CHAR_PTR utf8(std::string& s) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(s.data());
}

// with_watchdog runs body on a thread of its own. If it has not returned after timeout the module
// deadlocked: the test fails and the process exits rather than hanging until ctest's timeout.
void with_watchdog(std::chrono::seconds timeout, std::function<void()> body) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([done, body = std::move(body)] {
    body();
    done->set_value();
  }).detach();
  if (finished.wait_for(timeout) != std::future_status::ready) {
    ADD_FAILURE() << "the call did not return within " << timeout.count() << " s (deadlock?)";
    std::fprintf(stderr, "hostile_test: watchdog expired, exiting\n");
    std::fflush(nullptr);
    std::_Exit(1);
  }
}

// HostileTest: a read-write session with the user logged in, and objects to aim at: a token data
// object, two AES keys (kek_ wraps, aes_ is extractable) and a P-256 key pair (signs and derives).
class HostileTest : public LoggedInTest {
 protected:
  void SetUp() override {
    LoggedInTest::SetUp();
    if (!HasFatalFailure()) {
      make_objects();
    }
  }

  // make_objects makes the objects in s_'s token and counts them.
  void make_objects() {
    data_ = create(f(), s_, data_object("hostile-data", "0123456789", true, false));
    kek_ = create(f(), s_, aes_key(Bytes(16, 0x4b), false, true).boolean(CKA_WRAP, true));
    Template aes = aes_key(Bytes(32, 0x61), false, true, false);
    aes.boolean(CKA_EXTRACTABLE, true);
    aes_ = create(f(), s_, aes);
    ec_ = generate_ec(s_);
    ASSERT_NE(ec_.priv, CK_INVALID_HANDLE);
    baseline_ = find_all(f(), s_).size();
  }

  KeyPair generate_ec(CK_SESSION_HANDLE s) {
    Template pub;
    pub.bytes(CKA_EC_PARAMS, ec_params_p256());
    Template priv;
    priv.boolean(CKA_DERIVE, true);
    KeyPair kp;
    CK_RV rv = f()->C_GenerateKeyPair(s, &ec_gen_, pub.data(), pub.size(), priv.data(), priv.size(),
                                      &kp.pub, &kp.priv);
    EXPECT_CKR(CKR_OK, rv);
    return kp;
  }
  KeyPair generate_rsa() {
    CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    Template pub;
    pub.ulong(CKA_MODULUS_BITS, 2048);
    KeyPair kp;
    EXPECT_CKR(CKR_OK, f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(), nullptr, 0,
                                              &kp.pub, &kp.priv));
    return kp;
  }
  void destroy(std::initializer_list<CK_OBJECT_HANDLE> handles) {
    for (CK_OBJECT_HANDLE h : handles) {
      EXPECT_CKR(CKR_OK, f()->C_DestroyObject(s_, h));
    }
  }

  CK_RV sign_init(CK_SESSION_HANDLE s) { return f()->C_SignInit(s, &ecdsa_, ec_.priv); }
  CK_RV verify_init(CK_SESSION_HANDLE s) { return f()->C_VerifyInit(s, &ecdsa_, ec_.pub); }
  CK_RV encrypt_init(CK_SESSION_HANDLE s) { return f()->C_EncryptInit(s, &cbc_pad_, aes_); }
  CK_RV decrypt_init(CK_SESSION_HANDLE s) { return f()->C_DecryptInit(s, &cbc_pad_, aes_); }
  CK_RV digest_init(CK_SESSION_HANDLE s) { return f()->C_DigestInit(s, &sha256_); }
  // Case::init values: start that operation in s_ (none: the call continues no operation).
  const Init none;
  const Init signing = [this] { return sign_init(s_); };
  const Init verifying = [this] { return verify_init(s_); };
  const Init encrypting = [this] { return encrypt_init(s_); };
  const Init decrypting = [this] { return decrypt_init(s_); };
  const Init digesting = [this] { return digest_init(s_); };
  const Init message_encrypting = [this] { return f()->C_MessageEncryptInit(s_, &gcm_, aes_); };
  const Init message_decrypting = [this] { return f()->C_MessageDecryptInit(s_, &gcm_, aes_); };
  const Init message_signing = [this] { return f()->C_MessageSignInit(s_, &ecdsa_, ec_.priv); };
  const Init message_verifying = [this] { return f()->C_MessageVerifyInit(s_, &ecdsa_, ec_.pub); };

  Bytes sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const Bytes& data) {
    EXPECT_CKR(CKR_OK, f()->C_SignInit(s, &ecdsa_, key));
    Bytes sig(64);
    CK_ULONG len = sig.size();
    EXPECT_CKR(CKR_OK,
               f()->C_Sign(s, const_cast<CK_BYTE*>(data.data()), data.size(), sig.data(), &len));
    sig.resize(std::min<CK_ULONG>(len, sig.size()));
    return sig;
  }
  CK_RV verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const Bytes& data, Bytes sig) {
    EXPECT_CKR(CKR_OK, f()->C_VerifyInit(s, &ecdsa_, key));
    return f()->C_Verify(s, const_cast<CK_BYTE*>(data.data()), data.size(), sig.data(), sig.size());
  }
  // crypt runs C_Encrypt or C_Decrypt (after init) with an exactly sized output buffer.
  Bytes crypt(bool encrypt, const Bytes& in) {
    EXPECT_CKR(CKR_OK, encrypt ? encrypt_init(s_) : decrypt_init(s_));
    auto run = encrypt ? f()->C_Encrypt : f()->C_Decrypt;
    CK_ULONG len = 0;
    EXPECT_CKR(CKR_OK, run(s_, const_cast<CK_BYTE*>(in.data()), in.size(), nullptr, &len));
    Bytes out(len);
    EXPECT_CKR(CKR_OK, run(s_, const_cast<CK_BYTE*>(in.data()), in.size(), out.data(), &len));
    out.resize(std::min<CK_ULONG>(len, out.size()));
    return out;
  }
  Bytes wrap(CK_OBJECT_HANDLE key) {
    CK_ULONG len = 0;
    EXPECT_CKR(CKR_OK, f()->C_WrapKey(s_, &key_wrap_, kek_, key, nullptr, &len));
    Bytes out(len);
    EXPECT_CKR(CKR_OK, f()->C_WrapKey(s_, &key_wrap_, kek_, key, out.data(), &len));
    return out;
  }
  size_t count_objects(Template t = {}) { return find_all(f(), s_, std::move(t)).size(); }

  // expect_intact: the token holds exactly the objects make_objects made, unchanged, and still
  // signs, verifies, encrypts and decrypts.
  void expect_intact() {
    SCOPED_TRACE("expect_intact");
    f()->C_SessionCancel(s_, kAllOperations);
    EXPECT_EQ(count_objects(), baseline_) << "objects were created or destroyed";
    EXPECT_EQ(attr_bytes(f(), s_, data_, CKA_LABEL), to_bytes("hostile-data"));
    EXPECT_EQ(attr_bytes(f(), s_, data_, CKA_VALUE), to_bytes("0123456789"));
    Bytes msg = to_bytes("the token still works");
    EXPECT_CKR(CKR_OK, verify(s_, ec_.pub, msg, sign(s_, ec_.priv, msg)));
    EXPECT_EQ(crypt(false, crypt(true, msg)), msg);
  }

  // run_cases runs each case and checks its code and, for a call that continues an operation,
  // that the error ended the operation.
  void run_cases(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      if (c.init) {
        ASSERT_CKR(CKR_OK, c.init()) << "setting up " << c.name;
      }
      CK_RV rv = c.call();
      EXPECT_TRUE(allowed(c.codes, rv))
          << c.name << " returned " << rv_name(rv) << ", expected " << names(c.codes);
      if (c.init) {
        EXPECT_CKR(CKR_OK, c.init()) << c.name << ": the error did not end the operation";
        f()->C_SessionCancel(s_, kAllOperations);
      }
    }
  }

  // run_message_cases is run_cases for calls in a message-based operation: the error ends the
  // message, and the operation stays (init answers CKR_OPERATION_ACTIVE).
  void run_message_cases(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      ASSERT_CKR(CKR_OK, c.init()) << "setting up " << c.name;
      CK_RV rv = c.call();
      EXPECT_TRUE(allowed(c.codes, rv))
          << c.name << " returned " << rv_name(rv) << ", expected " << names(c.codes);
      EXPECT_CKR(CKR_OPERATION_ACTIVE, c.init()) << c.name << ": the error ended the operation";
      f()->C_SessionCancel(s_, kAllOperations);
    }
  }

  Bytes iv_ = Bytes(16, 0x11);
  CK_MECHANISM ecdsa_{CKM_ECDSA_SHA256, nullptr, 0};
  CK_MECHANISM sha256_{CKM_SHA256, nullptr, 0};
  CK_MECHANISM gcm_{CKM_AES_GCM, nullptr, 0};
  CK_MECHANISM cbc_pad_{CKM_AES_CBC_PAD, iv_.data(), 16};
  CK_MECHANISM key_wrap_{CKM_AES_KEY_WRAP, nullptr, 0};
  CK_MECHANISM aes_gen_{CKM_AES_KEY_GEN, nullptr, 0};
  CK_MECHANISM ec_gen_{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE data_ = CK_INVALID_HANDLE, kek_ = CK_INVALID_HANDLE, aes_ = CK_INVALID_HANDLE;
  KeyPair ec_;
  size_t baseline_ = 0;
};

// A template to unwrap or derive into: a session AES or generic secret key.
Template secret_key_template(CK_KEY_TYPE type) {
  Template t;
  t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, type).boolean(CKA_TOKEN, false);
  if (type == CKK_GENERIC_SECRET) {
    t.ulong(CKA_VALUE_LEN, 32);
  }
  return t;
}

// ======================= 1. NULL pointers =======================
// Every pointer argument of the 3.0 list that PKCS#11 does not allow to be NULL, except those
// ObjectsTest.NullPointerArguments covers (C_CreateObject, C_GetAttributeValue,
// C_SetAttributeValue, C_GetObjectSize, C_FindObjectsInit, C_FindObjects). CKR_ARGUMENTS_BAD,
// or where another code applies as well (a stub, a state error the module may check first), one of
// exactly those.

TEST_F(HostileTest, NullPointers) {
  Bytes buf(64);
  CK_ULONG len = buf.size();
  Bytes data = to_bytes("some data to process");
  Bytes sig(64, 1);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
  CK_SLOT_ID slots[4];
  CK_MECHANISM_TYPE mechanisms[128];
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  std::string pin = device().user_pin(), so_pin = device().so_pin(), new_pin = "new-pin-5678";
  Template gen;
  gen.ulong(CKA_VALUE_LEN, 16);
  Template ec_pub;
  ec_pub.bytes(CKA_EC_PARAMS, ec_params_p256());
  Template unwrap_tmpl = secret_key_template(CKK_AES);
  Template derive_tmpl = secret_key_template(CKK_GENERIC_SECRET);
  Bytes wrapped = wrap(aes_);
  Bytes point = attr_bytes(f(), s_, ec_.pub, CKA_EC_POINT);
  CK_ECDH1_DERIVE_PARAMS ecdh{CKD_NULL, 0, nullptr, point.size(), point.data()};
  CK_MECHANISM ecdh_mech{CKM_ECDH1_DERIVE, &ecdh, sizeof ecdh};
  CK_UTF8CHAR iface_name[] = "PKCS 11";
  CK_VERSION v30{3, 0};
  CK_BYTE* d = data.data();
  const CK_ULONG dn = data.size();

  const CK_RV kBad = CKR_ARGUMENTS_BAD;
  const Codes kStub = {kBad, CKR_FUNCTION_NOT_SUPPORTED};  // twinhsm does not implement it
  std::vector<Case> cases = {
      // Interfaces, general-purpose, slot and token functions.
      HOSTILE_CASE(none, C_GetFunctionList(nullptr), kBad),
      HOSTILE_CASE(none, C_GetInterfaceList(nullptr, nullptr), kBad),
      HOSTILE_CASE(none, C_GetInterface(iface_name, &v30, nullptr, 0), kBad),
      HOSTILE_CASE(none, C_GetInfo(nullptr), kBad),
      HOSTILE_CASE(none, C_GetSlotList(CK_FALSE, slots, nullptr), kBad),
      HOSTILE_CASE(none, C_GetSlotList(CK_TRUE, nullptr, nullptr), kBad),
      HOSTILE_CASE(none, C_GetSlotInfo(0, nullptr), kBad),
      HOSTILE_CASE(none, C_GetTokenInfo(0, nullptr), kBad),
      HOSTILE_CASE(none, C_GetMechanismList(0, mechanisms, nullptr), kBad),
      HOSTILE_CASE(none, C_GetMechanismList(0, nullptr, nullptr), kBad),
      HOSTILE_CASE(none, C_GetMechanismInfo(0, CKM_SHA256, nullptr), kBad),
      // C_InitToken may see the open sessions first (CKR_SESSION_EXISTS).
      HOSTILE_CASE(none, C_InitToken(0, nullptr, so_pin.size(), label), kBad, CKR_SESSION_EXISTS),
      HOSTILE_CASE(none, C_InitToken(0, utf8(so_pin), so_pin.size(), nullptr), kBad,
                   CKR_SESSION_EXISTS),
      // C_InitPIN needs the SO: the module may say so first (CKR_USER_NOT_LOGGED_IN).
      HOSTILE_CASE(none, C_InitPIN(s_, nullptr, 8), kBad, CKR_USER_NOT_LOGGED_IN),
      HOSTILE_CASE(none, C_SetPIN(s_, nullptr, pin.size(), utf8(new_pin), new_pin.size()), kBad),
      HOSTILE_CASE(none, C_SetPIN(s_, utf8(pin), pin.size(), nullptr, new_pin.size()), kBad),
      // Sessions.
      HOSTILE_CASE(none, C_OpenSession(0, kRwSession, nullptr, nullptr, nullptr), kBad),
      HOSTILE_CASE(none, C_GetSessionInfo(s_, nullptr), kBad),
      HOSTILE_CASE(none, C_GetOperationState(s_, buf.data(), nullptr), kStub),
      HOSTILE_CASE(none, C_SetOperationState(s_, nullptr, 16, 0, 0), kStub),
      // Objects (the rest: ObjectsTest.NullPointerArguments).
      HOSTILE_CASE(none, C_CopyObject(s_, data_, nullptr, 2, &h), kBad),
      HOSTILE_CASE(none, C_CopyObject(s_, data_, nullptr, 0, nullptr), kBad),
      // Encryption and decryption.
      HOSTILE_CASE(encrypting, C_Encrypt(s_, nullptr, dn, buf.data(), &len), kBad),
      HOSTILE_CASE(encrypting, C_Encrypt(s_, d, dn, buf.data(), nullptr), kBad),
      HOSTILE_CASE(encrypting, C_EncryptUpdate(s_, nullptr, dn, buf.data(), &len), kBad),
      HOSTILE_CASE(encrypting, C_EncryptUpdate(s_, d, dn, buf.data(), nullptr), kBad),
      HOSTILE_CASE(encrypting, C_EncryptFinal(s_, buf.data(), nullptr), kBad),
      HOSTILE_CASE(decrypting, C_Decrypt(s_, nullptr, 32, buf.data(), &len), kBad),
      HOSTILE_CASE(decrypting, C_Decrypt(s_, buf.data(), 32, buf.data(), nullptr), kBad),
      HOSTILE_CASE(decrypting, C_DecryptUpdate(s_, nullptr, 32, buf.data(), &len), kBad),
      HOSTILE_CASE(decrypting, C_DecryptUpdate(s_, buf.data(), 32, buf.data(), nullptr), kBad),
      HOSTILE_CASE(decrypting, C_DecryptFinal(s_, buf.data(), nullptr), kBad),
      // Digests.
      HOSTILE_CASE(digesting, C_Digest(s_, nullptr, dn, buf.data(), &len), kBad),
      HOSTILE_CASE(digesting, C_Digest(s_, d, dn, buf.data(), nullptr), kBad),
      HOSTILE_CASE(digesting, C_DigestUpdate(s_, nullptr, dn), kBad),
      HOSTILE_CASE(digesting, C_DigestFinal(s_, buf.data(), nullptr), kBad),
      // Signatures.
      HOSTILE_CASE(signing, C_Sign(s_, nullptr, dn, buf.data(), &len), kBad),
      HOSTILE_CASE(signing, C_Sign(s_, d, dn, buf.data(), nullptr), kBad),
      HOSTILE_CASE(signing, C_SignUpdate(s_, nullptr, dn), kBad),
      HOSTILE_CASE(signing, C_SignFinal(s_, buf.data(), nullptr), kBad),
      HOSTILE_CASE(verifying, C_Verify(s_, nullptr, dn, sig.data(), sig.size()), kBad),
      HOSTILE_CASE(verifying, C_Verify(s_, d, dn, nullptr, sig.size()), kBad),
      HOSTILE_CASE(verifying, C_VerifyUpdate(s_, nullptr, dn), kBad),
      HOSTILE_CASE(verifying, C_VerifyFinal(s_, nullptr, sig.size()), kBad),
      HOSTILE_CASE(none, C_SignRecoverInit(s_, nullptr, ec_.priv), kStub),
      HOSTILE_CASE(none, C_VerifyRecoverInit(s_, nullptr, ec_.pub), kStub),
      // Key management and random numbers.
      HOSTILE_CASE(none, C_GenerateKey(s_, nullptr, gen.data(), gen.size(), &h), kBad),
      HOSTILE_CASE(none, C_GenerateKey(s_, &aes_gen_, nullptr, 1, &h), kBad),
      HOSTILE_CASE(none, C_GenerateKey(s_, &aes_gen_, gen.data(), gen.size(), nullptr), kBad),
      HOSTILE_CASE(
          none, C_GenerateKeyPair(s_, nullptr, ec_pub.data(), ec_pub.size(), nullptr, 0, &h, &h2),
          kBad),
      HOSTILE_CASE(none, C_GenerateKeyPair(s_, &ec_gen_, nullptr, 1, nullptr, 0, &h, &h2), kBad),
      HOSTILE_CASE(
          none, C_GenerateKeyPair(s_, &ec_gen_, ec_pub.data(), ec_pub.size(), nullptr, 2, &h, &h2),
          kBad),
      HOSTILE_CASE(
          none,
          C_GenerateKeyPair(s_, &ec_gen_, ec_pub.data(), ec_pub.size(), nullptr, 0, nullptr, &h2),
          kBad),
      HOSTILE_CASE(
          none,
          C_GenerateKeyPair(s_, &ec_gen_, ec_pub.data(), ec_pub.size(), nullptr, 0, &h, nullptr),
          kBad),
      HOSTILE_CASE(none, C_WrapKey(s_, nullptr, kek_, aes_, buf.data(), &len), kBad),
      HOSTILE_CASE(none, C_WrapKey(s_, &key_wrap_, kek_, aes_, buf.data(), nullptr), kBad),
      HOSTILE_CASE(none,
                   C_UnwrapKey(s_, nullptr, kek_, wrapped.data(), wrapped.size(),
                               unwrap_tmpl.data(), unwrap_tmpl.size(), &h),
                   kBad),
      HOSTILE_CASE(none,
                   C_UnwrapKey(s_, &key_wrap_, kek_, nullptr, wrapped.size(), unwrap_tmpl.data(),
                               unwrap_tmpl.size(), &h),
                   kBad),
      HOSTILE_CASE(
          none, C_UnwrapKey(s_, &key_wrap_, kek_, wrapped.data(), wrapped.size(), nullptr, 2, &h),
          kBad),
      HOSTILE_CASE(none,
                   C_UnwrapKey(s_, &key_wrap_, kek_, wrapped.data(), wrapped.size(),
                               unwrap_tmpl.data(), unwrap_tmpl.size(), nullptr),
                   kBad),
      HOSTILE_CASE(none,
                   C_DeriveKey(s_, nullptr, ec_.priv, derive_tmpl.data(), derive_tmpl.size(), &h),
                   kBad),
      HOSTILE_CASE(none, C_DeriveKey(s_, &ecdh_mech, ec_.priv, nullptr, 3, &h), kBad),
      HOSTILE_CASE(
          none,
          C_DeriveKey(s_, &ecdh_mech, ec_.priv, derive_tmpl.data(), derive_tmpl.size(), nullptr),
          kBad),
      HOSTILE_CASE(none, C_SeedRandom(s_, nullptr, 16), kBad),
      HOSTILE_CASE(none, C_GenerateRandom(s_, nullptr, 16), kBad),
      HOSTILE_CASE(none, C_WaitForSlotEvent(CKF_DONT_BLOCK, nullptr, nullptr), kStub),
      // Functions twinhsm does not implement: CKR_FUNCTION_NOT_SUPPORTED is the answer as well.
      HOSTILE_CASE(none, C_DigestEncryptUpdate(s_, nullptr, dn, buf.data(), nullptr), kStub),
      HOSTILE_CASE(none, C_DecryptVerifyUpdate(s_, nullptr, dn, buf.data(), nullptr), kStub),
      // Message-based functions: nothing to end (an operation of its own kind: see below).
      HOSTILE_CASE(none, C_MessageEncryptInit(s_, nullptr, aes_), kBad),
      HOSTILE_CASE(none, C_MessageDecryptInit(s_, nullptr, aes_), kBad),
      HOSTILE_CASE(none, C_MessageSignInit(s_, nullptr, ec_.priv), kBad),
      HOSTILE_CASE(none, C_MessageVerifyInit(s_, nullptr, ec_.pub), kBad),
  };
  run_cases(cases);

  // In a message-based operation a NULL pointer fails the message, not the operation.
  CK_BYTE iv[12] = {};
  CK_BYTE tag[16] = {};
  CK_GCM_MESSAGE_PARAMS gcm{iv, sizeof iv, 0, CKG_NO_GENERATE, tag, 128};
  CK_VOID_PTR p = &gcm;
  const CK_ULONG pn = sizeof gcm;
  const Codes kBadParam = {kBad, CKR_MECHANISM_PARAM_INVALID};
  std::vector<Case> message_cases = {
      HOSTILE_CASE(message_encrypting,
                   C_EncryptMessage(s_, p, pn, nullptr, 4, d, dn, buf.data(), &len), kBad),
      HOSTILE_CASE(message_encrypting,
                   C_EncryptMessage(s_, p, pn, nullptr, 0, nullptr, dn, buf.data(), &len), kBad),
      HOSTILE_CASE(message_encrypting,
                   C_EncryptMessage(s_, p, pn, nullptr, 0, d, dn, buf.data(), nullptr), kBad),
      HOSTILE_CASE(message_encrypting,
                   C_EncryptMessage(s_, nullptr, pn, nullptr, 0, d, dn, buf.data(), &len),
                   kBadParam),
      HOSTILE_CASE(message_encrypting, C_EncryptMessageBegin(s_, p, pn, nullptr, 4), kBad),
      HOSTILE_CASE(message_encrypting, C_EncryptMessageBegin(s_, nullptr, pn, nullptr, 0),
                   kBadParam),
      HOSTILE_CASE(message_decrypting,
                   C_DecryptMessage(s_, p, pn, nullptr, 0, nullptr, dn, buf.data(), &len), kBad),
      HOSTILE_CASE(message_decrypting,
                   C_DecryptMessage(s_, p, pn, nullptr, 0, d, dn, buf.data(), nullptr), kBad),
      HOSTILE_CASE(message_signing, C_SignMessage(s_, nullptr, 0, nullptr, dn, buf.data(), &len),
                   kBad),
      HOSTILE_CASE(message_signing, C_SignMessage(s_, nullptr, 0, d, dn, buf.data(), nullptr),
                   kBad),
      HOSTILE_CASE(message_verifying, C_VerifyMessage(s_, nullptr, 0, nullptr, dn, buf.data(), 64),
                   kBad),
      HOSTILE_CASE(message_verifying, C_VerifyMessage(s_, nullptr, 0, d, dn, nullptr, 64), kBad),
  };
  run_message_cases(message_cases);

  // A NULL mechanism with no active operation: nothing to end (PKCS#11 3.0 lets *Init end an
  // active operation this way, see NullMechanismEndsTheActiveOperation), so a bad
  // argument, or nothing done -- and no operation may be left active either way.
  EXPECT_CKR_IN(f()->C_EncryptInit(s_, nullptr, aes_), kBad, CKR_OK);
  EXPECT_CKR_IN(f()->C_DecryptInit(s_, nullptr, aes_), kBad, CKR_OK);
  EXPECT_CKR_IN(f()->C_DigestInit(s_, nullptr), kBad, CKR_OK);
  EXPECT_CKR_IN(f()->C_SignInit(s_, nullptr, ec_.priv), kBad, CKR_OK);
  EXPECT_CKR_IN(f()->C_VerifyInit(s_, nullptr, ec_.pub), kBad, CKR_OK);
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_EncryptFinal(s_, buf.data(), &len));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_DecryptFinal(s_, buf.data(), &len));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_DigestFinal(s_, buf.data(), &len));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_SignFinal(s_, buf.data(), &len));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_VerifyFinal(s_, sig.data(), sig.size()));

  // The PINs are as they were, and no NULL PIN counted as a wrong one.
  EXPECT_FALSE(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_SO_PIN_COUNT_LOW));
  expect_intact();
}

// PKCS#11 3.0 (C_EncryptInit, C_DecryptInit, C_DigestInit, C_SignInit, C_VerifyInit): "can be
// called with pMechanism set to NULL_PTR to terminate an active ... operation. If an active
// operation cannot be cancelled, CKR_OPERATION_CANCEL_FAILED must be returned." twinhsm answers
// CKR_OPERATION_ACTIVE (the check comes before the mechanism is looked at) in encryption.cc,
// digest.cc and signing.cc, files this change could not touch: enable once they are fixed.
TEST_F(HostileTest, NullMechanismEndsTheActiveOperation) {
  Bytes buf(64);
  CK_ULONG len = buf.size();
  struct Kind {
    const char* name;
    std::function<CK_RV()> init, cancel, finish;
  };
  std::vector<Kind> kinds = {
      {"encrypt", [&] { return encrypt_init(s_); },
       [&] { return f()->C_EncryptInit(s_, nullptr, aes_); },
       [&] { return f()->C_EncryptFinal(s_, buf.data(), &len); }},
      {"decrypt", [&] { return decrypt_init(s_); },
       [&] { return f()->C_DecryptInit(s_, nullptr, aes_); },
       [&] { return f()->C_DecryptFinal(s_, buf.data(), &len); }},
      {"digest", [&] { return digest_init(s_); }, [&] { return f()->C_DigestInit(s_, nullptr); },
       [&] { return f()->C_DigestFinal(s_, buf.data(), &len); }},
      {"sign", [&] { return sign_init(s_); },
       [&] { return f()->C_SignInit(s_, nullptr, ec_.priv); },
       [&] { return f()->C_SignFinal(s_, buf.data(), &len); }},
      {"verify", [&] { return verify_init(s_); },
       [&] { return f()->C_VerifyInit(s_, nullptr, ec_.pub); },
       [&] { return f()->C_VerifyFinal(s_, buf.data(), 64); }},
  };
  for (const Kind& k : kinds) {
    SCOPED_TRACE(k.name);
    len = buf.size();
    ASSERT_CKR(CKR_OK, k.init());
    EXPECT_CKR(CKR_OK, k.cancel());
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, k.finish());
  }
  expect_intact();
}

// A session without login, for the PIN arguments of C_Login (a login would have to end in a
// logout, which destroys HostileTest's private session objects).
class HostileLoginTest : public P11Test {};

TEST_F(HostileLoginTest, NullAndLyingPins) {
  CK_SESSION_HANDLE s = open_session();
  std::string pin = device().user_pin();
  Bytes small(16, 'p');
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_Login(s, CKU_USER, nullptr, pin.size()));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_LoginUser(s, CKU_USER, nullptr, pin.size(), nullptr, 0));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_LoginUser(s, CKU_USER, utf8(pin), pin.size(), nullptr, 4));
  // No protected authentication path: a NULL PIN of length 0 is a bad argument or a refused login
  // (C_Login cannot answer CKR_PIN_LEN_RANGE: it is not among its return values).
  EXPECT_CKR_IN(f()->C_Login(s, CKU_USER, nullptr, 0), CKR_ARGUMENTS_BAD, CKR_PIN_INCORRECT);
  // A PIN length far beyond the PIN's buffer: refused without reading it.
  for (CK_ULONG lie : {kAbsurdLength, ~CK_ULONG{0}}) {
    EXPECT_CKR_IN(f()->C_Login(s, CKU_USER, small.data(), lie), CKR_ARGUMENTS_BAD,
                  CKR_PIN_INCORRECT);
    EXPECT_CKR_IN(f()->C_Login(s, CKU_SO, small.data(), lie), CKR_ARGUMENTS_BAD, CKR_PIN_INCORRECT);
  }
  EXPECT_EQ(session_state(s), CKS_RW_PUBLIC_SESSION);
  // At most the refused lies counted; the right PIN still logs in.
  EXPECT_FALSE(token_flags() & (CKF_USER_PIN_LOCKED | CKF_SO_PIN_LOCKED));
  EXPECT_CKR(CKR_OK, login_user(s));
  EXPECT_EQ(session_state(s), CKS_RW_USER_FUNCTIONS);
}

// ======================= 2. Lengths and counts that lie =======================

// CK_BBOOL and CK_ULONG attributes whose ulValueLen is not the type's size, and values with a
// NULL pointer and a length: CKR_ATTRIBUTE_VALUE_INVALID (PKCS#11 3.0 4.1.1 item 2). A search may
// instead match nothing (5.7.7: C_FindObjectsInit "is not required to" return it).
TEST_F(HostileTest, AttributeLengthsThatLie) {
  Bytes value(16, 0);
  CK_ULONG data_class = CKO_DATA;
  std::memcpy(value.data(), &data_class, sizeof data_class);  // a CKO_DATA followed by zeros
  auto lying = [&](CK_ATTRIBUTE_TYPE type, size_t len) {
    Template t;
    t.raw(type, value.data(), len);
    return t;
  };
  auto find_rejects_or_matches_nothing = [&](Template t, const std::string& what) {
    CK_RV rv = f()->C_FindObjectsInit(s_, t.data(), t.size());
    if (rv == CKR_OK) {
      CK_OBJECT_HANDLE out[8];
      CK_ULONG n = 99;
      EXPECT_CKR(CKR_OK, f()->C_FindObjects(s_, out, 8, &n));
      EXPECT_EQ(n, 0u) << what << ": a lying length matched objects";
      EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
    } else {
      EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, rv) << what;
    }
  };
  struct Typed {
    CK_ATTRIBUTE_TYPE type;
    size_t size;
  };
  for (Typed a : {Typed{CKA_CLASS, sizeof(CK_ULONG)}, Typed{CKA_TOKEN, sizeof(CK_BBOOL)},
                  Typed{CKA_PRIVATE, sizeof(CK_BBOOL)}, Typed{CKA_DESTROYABLE, sizeof(CK_BBOOL)}}) {
    for (size_t len : {size_t{0}, size_t{1}, size_t{3}, size_t{16}}) {
      if (len == a.size) {
        continue;
      }
      std::string what =
          "attribute " + std::to_string(a.type) + " of " + std::to_string(len) + " bytes";
      SCOPED_TRACE(what);
      Template create = data_object("lying", "v", false, false);
      if (a.type == CKA_CLASS) {
        create = Template();
        create.str(CKA_LABEL, "lying");
      }
      create.raw(a.type, value.data(), len);
      CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
      // data_object sets CKA_TOKEN and CKA_PRIVATE already: the lying duplicate conflicts with
      // them, which may be reported as inconsistent instead.
      if (a.type == CKA_TOKEN || a.type == CKA_PRIVATE) {
        EXPECT_CKR_IN(f()->C_CreateObject(s_, create.data(), create.size(), &h),
                      CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT);
        Template alone;
        alone.ulong(CKA_CLASS, CKO_DATA).raw(a.type, value.data(), len);
        EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
                   f()->C_CreateObject(s_, alone.data(), alone.size(), &h));
      } else {
        EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
                   f()->C_CreateObject(s_, create.data(), create.size(), &h));
      }
      Template set = lying(a.type, len);
      EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
                 f()->C_SetAttributeValue(s_, data_, set.data(), set.size()));
      find_rejects_or_matches_nothing(lying(a.type, len), what);
      Template gen;
      gen.ulong(CKA_VALUE_LEN, 16).raw(a.type, value.data(), len);
      EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
                 f()->C_GenerateKey(s_, &aes_gen_, gen.data(), gen.size(), &h));
    }
  }
  // CKA_VALUE_LEN (a CK_ULONG) of a generated key, with a lying length.
  for (size_t len : {size_t{0}, size_t{1}, size_t{3}, size_t{16}}) {
    Template gen = lying(CKA_VALUE_LEN, len);
    CK_OBJECT_HANDLE h;
    EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
               f()->C_GenerateKey(s_, &aes_gen_, gen.data(), gen.size(), &h))
        << len;
  }
  // A NULL value pointer with a length: an invalid value, or a bad argument.
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_ULONG sixteen = 16;
  CK_ATTRIBUTE null_label[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, nullptr, 5}};
  CK_ATTRIBUTE null_bool[] = {{CKA_VALUE_LEN, &sixteen, sizeof sixteen}, {CKA_TOKEN, nullptr, 1}};
  CK_OBJECT_HANDLE h;
  EXPECT_CKR_IN(f()->C_CreateObject(s_, null_label, 2, &h), CKR_ATTRIBUTE_VALUE_INVALID,
                CKR_ARGUMENTS_BAD);
  EXPECT_CKR_IN(f()->C_SetAttributeValue(s_, data_, &null_label[1], 1), CKR_ATTRIBUTE_VALUE_INVALID,
                CKR_ARGUMENTS_BAD);
  EXPECT_CKR_IN(f()->C_FindObjectsInit(s_, &null_label[1], 1), CKR_ATTRIBUTE_VALUE_INVALID,
                CKR_ARGUMENTS_BAD);
  EXPECT_CKR_IN(f()->C_GenerateKey(s_, &aes_gen_, null_bool, 2, &h), CKR_ATTRIBUTE_VALUE_INVALID,
                CKR_ARGUMENTS_BAD);
  EXPECT_CKR_IN(f()->C_CopyObject(s_, data_, &null_label[1], 1, &h), CKR_ATTRIBUTE_VALUE_INVALID,
                CKR_ARGUMENTS_BAD);
  f()->C_FindObjectsFinal(s_);
  expect_intact();
}

// Mechanism parameters of the wrong size, and lengths inside them that lie:
// CKR_MECHANISM_PARAM_INVALID, and no operation left behind.
TEST_F(HostileTest, MechanismParameterLengthsThatLie) {
  KeyPair rsa = generate_rsa();
  ASSERT_NE(rsa.priv, CK_INVALID_HANDLE);
  auto expect_refused = [&](CK_MECHANISM_TYPE type, Bytes param, CK_ULONG len,
                            const std::string& what, std::function<CK_RV(CK_MECHANISM*)> init) {
    SCOPED_TRACE(what);
    CK_MECHANISM m{type, param.empty() ? nullptr : param.data(), len};
    EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, init(&m));
  };
  auto encrypt_with = [&](CK_OBJECT_HANDLE key) {
    return [this, key](CK_MECHANISM* m) { return f()->C_EncryptInit(s_, m, key); };
  };
  auto sign_with = [&](CK_OBJECT_HANDLE key) {
    return [this, key](CK_MECHANISM* m) { return f()->C_SignInit(s_, m, key); };
  };

  // CKM_AES_GCM: CK_GCM_PARAMS (twinhsm also takes the 2.40 layout, 8 bytes shorter).
  Bytes iv(12, 1), aad(16, 2);
  CK_GCM_PARAMS gcm{iv.data(), iv.size(), 96, aad.data(), aad.size(), 128};
  for (size_t n : {size_t{1}, sizeof gcm - 1, sizeof gcm + 1, sizeof gcm + 8}) {
    expect_refused(CKM_AES_GCM, prefix(gcm, n), n,
                   "CK_GCM_PARAMS of " + std::to_string(n) + " bytes", encrypt_with(aes_));
  }
  expect_refused(CKM_AES_GCM, {}, sizeof gcm, "CK_GCM_PARAMS NULL", encrypt_with(aes_));
  expect_refused(CKM_AES_GCM, prefix(gcm, sizeof gcm), 0, "CK_GCM_PARAMS of length 0",
                 encrypt_with(aes_));
  auto gcm_liar = [&](const char* what, std::function<void(CK_GCM_PARAMS&)> lie) {
    CK_GCM_PARAMS liar = gcm;
    lie(liar);
    expect_refused(CKM_AES_GCM, prefix(liar, sizeof liar), sizeof liar, what, encrypt_with(aes_));
  };
  gcm_liar("ulIvLen absurd", [](CK_GCM_PARAMS& p) { p.ulIvLen = kAbsurdLength; });
  gcm_liar("ulAADLen absurd", [](CK_GCM_PARAMS& p) { p.ulAADLen = kAbsurdLength; });
  gcm_liar("ulTagBits absurd", [](CK_GCM_PARAMS& p) { p.ulTagBits = kAbsurdLength; });
  gcm_liar("ulTagBits 0", [](CK_GCM_PARAMS& p) { p.ulTagBits = 0; });
  gcm_liar("pIv NULL with a length", [](CK_GCM_PARAMS& p) { p.pIv = nullptr; });
  gcm_liar("pAAD NULL with a length", [](CK_GCM_PARAMS& p) { p.pAAD = nullptr; });

  // CKM_AES_CBC_PAD and CKM_AES_CBC: a 16-byte IV.
  for (size_t n : {size_t{8}, size_t{15}, size_t{17}, size_t{32}}) {
    expect_refused(CKM_AES_CBC_PAD, Bytes(n, 3), n, "CBC_PAD IV of " + std::to_string(n),
                   encrypt_with(aes_));
    expect_refused(CKM_AES_CBC, Bytes(n, 3), n, "CBC IV of " + std::to_string(n),
                   encrypt_with(aes_));
  }
  expect_refused(CKM_AES_CBC_PAD, {}, 16, "CBC_PAD IV NULL", encrypt_with(aes_));

  // CKM_AES_CTR: CK_AES_CTR_PARAMS.
  CK_AES_CTR_PARAMS ctr{64, {0}};
  for (size_t n : {size_t{8}, sizeof ctr - 1, sizeof ctr + 1}) {
    expect_refused(CKM_AES_CTR, prefix(ctr, n), n, "CK_AES_CTR_PARAMS of " + std::to_string(n),
                   encrypt_with(aes_));
  }

  // CKM_RSA_PKCS_PSS and CKM_SHA256_RSA_PKCS_PSS: CK_RSA_PKCS_PSS_PARAMS, here too short.
  CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
  for (size_t n : {size_t{1}, size_t{8}, sizeof pss - 1}) {
    expect_refused(CKM_RSA_PKCS_PSS, prefix(pss, n), n, "PSS params of " + std::to_string(n),
                   sign_with(rsa.priv));
    expect_refused(CKM_SHA256_RSA_PKCS_PSS, prefix(pss, n), n,
                   "SHA256 PSS params of " + std::to_string(n), sign_with(rsa.priv));
  }
  expect_refused(CKM_RSA_PKCS_PSS, {}, 0, "PSS params missing", sign_with(rsa.priv));

  // CKM_RSA_PKCS_OAEP: CK_RSA_PKCS_OAEP_PARAMS, and its source data length.
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
  expect_refused(CKM_RSA_PKCS_OAEP, prefix(oaep, sizeof oaep - 1), sizeof oaep - 1,
                 "OAEP params too short", encrypt_with(rsa.pub));
  CK_RSA_PKCS_OAEP_PARAMS oaep_liar = oaep;
  oaep_liar.pSourceData = aad.data();
  oaep_liar.ulSourceDataLen = kAbsurdLength;
  expect_refused(CKM_RSA_PKCS_OAEP, prefix(oaep_liar, sizeof oaep_liar), sizeof oaep_liar,
                 "OAEP source data length absurd", encrypt_with(rsa.pub));
  oaep_liar.pSourceData = nullptr;
  oaep_liar.ulSourceDataLen = 16;
  expect_refused(CKM_RSA_PKCS_OAEP, prefix(oaep_liar, sizeof oaep_liar), sizeof oaep_liar,
                 "OAEP source data NULL", encrypt_with(rsa.pub));

  // CKM_ECDH1_DERIVE: CK_ECDH1_DERIVE_PARAMS and its public data length.
  Bytes point = attr_bytes(f(), s_, ec_.pub, CKA_EC_POINT);
  Template derived = secret_key_template(CKK_GENERIC_SECRET);
  auto derive = [&](CK_MECHANISM* m) {
    CK_OBJECT_HANDLE h;
    return f()->C_DeriveKey(s_, m, ec_.priv, derived.data(), derived.size(), &h);
  };
  CK_ECDH1_DERIVE_PARAMS ecdh{CKD_NULL, 0, nullptr, point.size(), point.data()};
  expect_refused(CKM_ECDH1_DERIVE, prefix(ecdh, sizeof ecdh - 1), sizeof ecdh - 1,
                 "ECDH params too short", derive);
  CK_ECDH1_DERIVE_PARAMS ecdh_liar = ecdh;
  ecdh_liar.ulPublicDataLen = kAbsurdLength;
  expect_refused(CKM_ECDH1_DERIVE, prefix(ecdh_liar, sizeof ecdh_liar), sizeof ecdh_liar,
                 "ECDH public data length absurd", derive);
  ecdh_liar = ecdh;
  ecdh_liar.pSharedData = nullptr;
  ecdh_liar.ulSharedDataLen = 16;
  expect_refused(CKM_ECDH1_DERIVE, prefix(ecdh_liar, sizeof ecdh_liar), sizeof ecdh_liar,
                 "ECDH shared data NULL", derive);

  // Nothing was left active: the right parameters still start operations.
  EXPECT_CKR(CKR_OK, f()->C_EncryptInit(s_, &cbc_pad_, aes_));
  EXPECT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_ENCRYPT));
  CK_MECHANISM good_pss{CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
  EXPECT_CKR(CKR_OK, f()->C_SignInit(s_, &good_pss, rsa.priv));
  EXPECT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_SIGN));
  destroy({rsa.pub, rsa.priv});
  expect_intact();
}

// Output buffers one byte short: CKR_BUFFER_TOO_SMALL with the exact length needed (PKCS#11 3.0
// 5.2), nothing written past the buffer, and the operation still active (C_Sign, C_Encrypt,
// C_Decrypt, C_Digest keep it on CKR_BUFFER_TOO_SMALL), so that the retry completes it.
// C_GetAttributeValue answers CK_UNAVAILABLE_INFORMATION instead (5.7.5, case 5).
TEST_F(HostileTest, OutputBuffersOneByteShort) {
  Bytes msg = to_bytes("twenty bytes of data");
  // one_short runs the call with a buffer one byte shorter than expected, checks the answer,
  // that the operation is still active (init answers CKR_OPERATION_ACTIVE), then completes it.
  auto one_short = [&](const char* what, size_t expected, std::function<CK_RV()> init,
                       std::function<CK_RV(CK_BYTE*, CK_ULONG*)> call) {
    SCOPED_TRACE(what);
    if (init) {
      EXPECT_CKR(CKR_OK, init());
    }
    Bytes out(expected - 1, 0xEE);
    CK_ULONG len = out.size();
    EXPECT_CKR(CKR_BUFFER_TOO_SMALL, call(out.data(), &len));
    EXPECT_EQ(len, expected);
    EXPECT_EQ(out, Bytes(expected - 1, 0xEE)) << "a refused output was partly written";
    if (init) {
      EXPECT_CKR(CKR_OPERATION_ACTIVE, init()) << "CKR_BUFFER_TOO_SMALL ended the operation";
    }
    Bytes exact(expected);
    len = exact.size();
    EXPECT_CKR(CKR_OK, call(exact.data(), &len));
    EXPECT_EQ(len, expected);
    return exact;
  };
  Bytes sig = one_short(
      "C_Sign", 64, [&] { return sign_init(s_); },
      [&](CK_BYTE* out, CK_ULONG* len) {
        return f()->C_Sign(s_, msg.data(), msg.size(), out, len);
      });
  EXPECT_CKR(CKR_OK, verify(s_, ec_.pub, msg, sig));
  Bytes ciphertext = one_short(
      "C_Encrypt", 32, [&] { return encrypt_init(s_); },
      [&](CK_BYTE* out, CK_ULONG* len) {
        return f()->C_Encrypt(s_, msg.data(), msg.size(), out, len);
      });
  Bytes plaintext = one_short(
      "C_Decrypt", msg.size(), [&] { return decrypt_init(s_); },
      [&](CK_BYTE* out, CK_ULONG* len) {
        return f()->C_Decrypt(s_, ciphertext.data(), ciphertext.size(), out, len);
      });
  EXPECT_EQ(plaintext, msg);
  one_short(
      "C_Digest", 32, [&] { return digest_init(s_); },
      [&](CK_BYTE* out, CK_ULONG* len) {
        return f()->C_Digest(s_, msg.data(), msg.size(), out, len);
      });
  one_short(
      "C_SignFinal", 64,
      [&] {
        CK_RV rv = sign_init(s_);
        return rv == CKR_OK ? f()->C_SignUpdate(s_, msg.data(), msg.size()) : rv;
      },
      [&](CK_BYTE* out, CK_ULONG* len) { return f()->C_SignFinal(s_, out, len); });
  // C_WrapKey: RFC 3394 wrapping of a 32-byte key gives 40 bytes.
  Bytes wrapped = one_short("C_WrapKey", 40, {}, [&](CK_BYTE* out, CK_ULONG* len) {
    return f()->C_WrapKey(s_, &key_wrap_, kek_, aes_, out, len);
  });
  EXPECT_EQ(wrapped, wrap(aes_));

  // C_GetAttributeValue: the 12-byte label into 11 bytes.
  Bytes label(11, 0xEE);
  CK_ATTRIBUTE a{CKA_LABEL, label.data(), label.size()};
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, f()->C_GetAttributeValue(s_, data_, &a, 1));
  EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(label, Bytes(11, 0xEE));
  expect_intact();
}

// Template counts far beyond the array (a valid two-attribute template in a block of exactly two
// CK_ATTRIBUTEs): refused without reading past it. CKR_ARGUMENTS_BAD, or CKR_TEMPLATE_INCONSISTENT
// where the function may return it (C_GetAttributeValue and C_FindObjectsInit may not).
TEST_F(HostileTest, TemplateCountsThatLie) {
  CK_OBJECT_CLASS cls = CKO_DATA;
  std::string label = "counted";
  auto two = std::make_unique<CK_ATTRIBUTE[]>(2);
  two[0] = {CKA_CLASS, &cls, sizeof cls};
  two[1] = {CKA_LABEL, label.data(), label.size()};
  Bytes wrapped = wrap(aes_);
  Bytes point = attr_bytes(f(), s_, ec_.pub, CKA_EC_POINT);
  CK_ECDH1_DERIVE_PARAMS ecdh{CKD_NULL, 0, nullptr, point.size(), point.data()};
  CK_MECHANISM ecdh_mech{CKM_ECDH1_DERIVE, &ecdh, sizeof ecdh};
  Template ec_pub;
  ec_pub.bytes(CKA_EC_PARAMS, ec_params_p256());
  CK_ATTRIBUTE* t = two.get();
  const Codes kCreating = {CKR_ARGUMENTS_BAD, CKR_TEMPLATE_INCONSISTENT};
  for (CK_ULONG count : {kAbsurdCount, ~CK_ULONG{0}}) {
    SCOPED_TRACE("count " + std::to_string(count));
    CK_OBJECT_HANDLE h, h2;
    EXPECT_CKR_IN(f()->C_CreateObject(s_, t, count, &h), kCreating[0], kCreating[1]);
    EXPECT_CKR_IN(f()->C_SetAttributeValue(s_, data_, t, count), kCreating[0], kCreating[1]);
    EXPECT_CKR_IN(f()->C_CopyObject(s_, data_, t, count, &h), kCreating[0], kCreating[1]);
    EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_FindObjectsInit(s_, t, count));
    EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GetAttributeValue(s_, data_, t, count));
    EXPECT_CKR_IN(f()->C_GenerateKey(s_, &aes_gen_, t, count, &h), kCreating[0], kCreating[1]);
    EXPECT_CKR_IN(f()->C_GenerateKeyPair(s_, &ec_gen_, t, count, nullptr, 0, &h, &h2), kCreating[0],
                  kCreating[1]);
    EXPECT_CKR_IN(
        f()->C_GenerateKeyPair(s_, &ec_gen_, ec_pub.data(), ec_pub.size(), t, count, &h, &h2),
        kCreating[0], kCreating[1]);
    EXPECT_CKR_IN(
        f()->C_UnwrapKey(s_, &key_wrap_, kek_, wrapped.data(), wrapped.size(), t, count, &h),
        kCreating[0], kCreating[1]);
    EXPECT_CKR_IN(f()->C_DeriveKey(s_, &ecdh_mech, ec_.priv, t, count, &h), kCreating[0],
                  kCreating[1]);
  }
  f()->C_FindObjectsFinal(s_);
  EXPECT_EQ(two[1].ulValueLen, label.size());
  expect_intact();
}

// Data lengths far beyond a 16-byte buffer: refused without reading (or writing) past it.
// CKR_ARGUMENTS_BAD, or the function's length-range code.
TEST_F(HostileTest, DataLengthsThatLie) {
  Bytes small(16, 0x5a);
  Bytes out(64);
  CK_ULONG out_len = out.size();
  CK_BYTE* p = small.data();
  Bytes sig(64, 1);
  CK_OBJECT_HANDLE h;
  Template u = secret_key_template(CKK_AES);
  for (CK_ULONG lie : {kAbsurdLength, ~CK_ULONG{0}}) {
    SCOPED_TRACE("length " + std::to_string(lie));
    const Codes data_range = {CKR_DATA_LEN_RANGE, CKR_ARGUMENTS_BAD};
    const Codes encrypted_range = {CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_ARGUMENTS_BAD};
    std::vector<Case> cases = {
        HOSTILE_CASE(signing, C_Sign(s_, p, lie, out.data(), &out_len), data_range),
        HOSTILE_CASE(signing, C_SignUpdate(s_, p, lie), data_range),
        HOSTILE_CASE(verifying, C_Verify(s_, p, lie, sig.data(), sig.size()), data_range),
        HOSTILE_CASE(verifying, C_Verify(s_, p, 4, p, lie), CKR_SIGNATURE_LEN_RANGE,
                     CKR_ARGUMENTS_BAD),
        HOSTILE_CASE(verifying, C_VerifyUpdate(s_, p, lie), data_range),
        HOSTILE_CASE(encrypting, C_Encrypt(s_, p, lie, out.data(), &out_len), data_range),
        HOSTILE_CASE(encrypting, C_Encrypt(s_, p, lie, nullptr, &out_len), data_range),
        HOSTILE_CASE(encrypting, C_EncryptUpdate(s_, p, lie, out.data(), &out_len), data_range),
        HOSTILE_CASE(decrypting, C_Decrypt(s_, p, lie, out.data(), &out_len), encrypted_range),
        HOSTILE_CASE(decrypting, C_DecryptUpdate(s_, p, lie, out.data(), &out_len),
                     encrypted_range),
        // C_Digest and C_DigestUpdate have no length-range code.
        HOSTILE_CASE(digesting, C_Digest(s_, p, lie, out.data(), &out_len), CKR_ARGUMENTS_BAD),
        HOSTILE_CASE(digesting, C_DigestUpdate(s_, p, lie), CKR_ARGUMENTS_BAD),
        HOSTILE_CASE(none, C_SeedRandom(s_, p, lie), CKR_ARGUMENTS_BAD),
        HOSTILE_CASE(none, C_GenerateRandom(s_, p, lie), CKR_ARGUMENTS_BAD),
        HOSTILE_CASE(none, C_UnwrapKey(s_, &key_wrap_, kek_, p, lie, u.data(), u.size(), &h),
                     CKR_WRAPPED_KEY_LEN_RANGE, CKR_ARGUMENTS_BAD),
    };
    run_cases(cases);
  }
  EXPECT_EQ(small, Bytes(16, 0x5a));
  expect_intact();
}

// ======================= 3. Huge templates =======================

// Templates of 100,000 attributes (valid memory) through C_CreateObject, C_GetAttributeValue,
// C_FindObjectsInit, C_SetAttributeValue and C_GenerateKey: answered with a spec code, in a few
// seconds (a quadratic pass over 100,000 attributes would take minutes).
TEST_F(HostileTest, HundredThousandAttributes) {
  constexpr size_t kHuge = 100000;
  CK_OBJECT_CLASS cls = CKO_DATA;
  std::string label = "huge", app = "app", renamed = "renamed";
  std::vector<CK_ULONG> values(kHuge);
  auto vendor = [](size_t i) { return CKA_VENDOR_DEFINED + 1 + i; };

  // 100,000 distinct vendor attributes: twinhsm keeps vendor attributes as given (4.1.1 item 1
  // allows it), or refuses them as invalid types.
  std::vector<CK_ATTRIBUTE> t = {{CKA_CLASS, &cls, sizeof cls},
                                 {CKA_LABEL, label.data(), label.size()}};
  for (size_t i = 0; t.size() < kHuge; ++i) {
    values[i] = i * 7919;
    t.push_back({vendor(i), &values[i], sizeof(CK_ULONG)});
  }
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = f()->C_CreateObject(s_, t.data(), t.size(), &h);
  EXPECT_CKR_IN(rv, CKR_OK, CKR_ATTRIBUTE_TYPE_INVALID);
  if (rv == CKR_OK) {
    // Read them all back in one call, each into its own exactly sized buffer.
    std::vector<CK_ULONG> back(kHuge, 0);
    std::vector<CK_ATTRIBUTE> get(t.size());
    for (size_t i = 2; i < t.size(); ++i) {
      get[i] = {t[i].type, &back[i], sizeof(CK_ULONG)};
    }
    get[0] = {CKA_CLASS, &back[0], sizeof(CK_ULONG)};
    get[1] = {CKA_MODULUS, nullptr, 0};  // not an attribute of data objects
    EXPECT_CKR(CKR_ATTRIBUTE_TYPE_INVALID, f()->C_GetAttributeValue(s_, h, get.data(), get.size()));
    EXPECT_EQ(get[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_EQ(back[0], CKO_DATA);
    size_t wrong = 0;
    for (size_t i = 2; i < t.size(); ++i) {
      wrong += (get[i].ulValueLen != sizeof(CK_ULONG) || back[i] != values[i - 2]) ? 1 : 0;
    }
    EXPECT_EQ(wrong, 0u);
    // A search on all of them finds exactly that object.
    EXPECT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, t.data(), t.size()));
    CK_OBJECT_HANDLE out[4];
    CK_ULONG n = 0;
    EXPECT_CKR(CKR_OK, f()->C_FindObjects(s_, out, 4, &n));
    EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
    EXPECT_EQ(std::vector<CK_OBJECT_HANDLE>(out, out + n), std::vector<CK_OBJECT_HANDLE>{h});
    destroy({h});
  }
  // The same 100,000 attributes as a search: no object has them now.
  rv = f()->C_FindObjectsInit(s_, t.data() + 2, t.size() - 2);
  EXPECT_CKR_IN(rv, CKR_OK, CKR_ATTRIBUTE_TYPE_INVALID);
  if (rv == CKR_OK) {
    CK_OBJECT_HANDLE out[4];
    CK_ULONG n = 99;
    EXPECT_CKR(CKR_OK, f()->C_FindObjects(s_, out, 4, &n));
    EXPECT_EQ(n, 0u);
    EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
  }

  // 100,000 attributes read from the data object: every entry answered (5.7.5).
  std::vector<CK_ATTRIBUTE> get(kHuge);
  for (size_t i = 0; i < kHuge; ++i) {
    get[i] = i % 2 ? CK_ATTRIBUTE{CKA_MODULUS, nullptr, 0} : CK_ATTRIBUTE{CKA_LABEL, nullptr, 0};
  }
  EXPECT_CKR(CKR_ATTRIBUTE_TYPE_INVALID,
             f()->C_GetAttributeValue(s_, data_, get.data(), get.size()));
  size_t unanswered = 0;
  for (size_t i = 0; i < kHuge; ++i) {
    unanswered += get[i].ulValueLen != (i % 2 ? CK_UNAVAILABLE_INFORMATION : CK_ULONG{12}) ? 1 : 0;
  }
  EXPECT_EQ(unanswered, 0u);

  // One attribute 100,000 times with the same value: as if given once, or refused as
  // inconsistent (4.1.1 item 6). A search: as if given once.
  auto repeated = [&](std::vector<CK_ATTRIBUTE> head, CK_ATTRIBUTE a) {
    while (head.size() < kHuge) {
      head.push_back(a);
    }
    return head;
  };
  std::vector<CK_ATTRIBUTE> apps =
      repeated({{CKA_CLASS, &cls, sizeof cls}}, {CKA_APPLICATION, app.data(), app.size()});
  rv = f()->C_CreateObject(s_, apps.data(), apps.size(), &h);
  EXPECT_CKR_IN(rv, CKR_OK, CKR_TEMPLATE_INCONSISTENT);
  if (rv == CKR_OK) {
    EXPECT_EQ(attr_bytes(f(), s_, h, CKA_APPLICATION), to_bytes(app));
    destroy({h});
  }
  std::string data_label = "hostile-data";
  std::vector<CK_ATTRIBUTE> labels =
      repeated({}, {CKA_LABEL, data_label.data(), data_label.size()});
  EXPECT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, labels.data(), labels.size()));
  CK_OBJECT_HANDLE out[4];
  CK_ULONG n = 0;
  EXPECT_CKR(CKR_OK, f()->C_FindObjects(s_, out, 4, &n));
  EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
  EXPECT_EQ(std::vector<CK_OBJECT_HANDLE>(out, out + n), std::vector<CK_OBJECT_HANDLE>{data_});
  std::vector<CK_ATTRIBUTE> renames = repeated({}, {CKA_LABEL, renamed.data(), renamed.size()});
  rv = f()->C_SetAttributeValue(s_, data_, renames.data(), renames.size());
  EXPECT_CKR_IN(rv, CKR_OK, CKR_TEMPLATE_INCONSISTENT);
  if (rv == CKR_OK) {
    EXPECT_EQ(attr_bytes(f(), s_, data_, CKA_LABEL), to_bytes(renamed));
    Template back;
    back.str(CKA_LABEL, data_label);
    EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, data_, back.data(), back.size()));
  }
  CK_ULONG sixteen = 16;
  std::vector<CK_ATTRIBUTE> lens = repeated({}, {CKA_VALUE_LEN, &sixteen, sizeof sixteen});
  rv = f()->C_GenerateKey(s_, &aes_gen_, lens.data(), lens.size(), &h);
  EXPECT_CKR_IN(rv, CKR_OK, CKR_TEMPLATE_INCONSISTENT);
  if (rv == CKR_OK) {
    EXPECT_EQ(attr_ulong(f(), s_, h, CKA_VALUE_LEN), 16u);
    destroy({h});
  }
  expect_intact();
}

// One attribute of 64 MiB (CKA_VALUE of a data object, CKA_LABEL): stored, or refused with
// CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT (a token's own limit, 4.1.1 item 5),
// CKR_DEVICE_MEMORY or CKR_HOST_MEMORY. A search on it finds nothing or is refused.
TEST_F(HostileTest, SixtyFourMebibyteValues) {
  std::string big(64u << 20, 'v');
  const Codes kCodes = {CKR_OK, CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT,
                        CKR_DEVICE_MEMORY, CKR_HOST_MEMORY};
  auto created = [&](Template t, const char* what) {
    SCOPED_TRACE(what);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = f()->C_CreateObject(s_, t.data(), t.size(), &h);
    EXPECT_TRUE(allowed(kCodes, rv)) << rv_name(rv);
    if (rv == CKR_OK) {
      CK_ATTRIBUTE size_query{CKA_VALUE, nullptr, 0};
      EXPECT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, h, &size_query, 1));
      destroy({h});
    }
  };
  created(data_object("big value", big, false, false), "session object, 64 MiB CKA_VALUE");
  created(data_object("big value", big, true, false), "token object, 64 MiB CKA_VALUE");
  created(data_object(big, "v", false, false), "64 MiB CKA_LABEL");

  Template label;
  label.str(CKA_LABEL, big);
  CK_RV rv = f()->C_SetAttributeValue(s_, data_, label.data(), label.size());
  EXPECT_TRUE(allowed(kCodes, rv)) << "C_SetAttributeValue: " << rv_name(rv);
  if (rv == CKR_OK) {
    Template back;
    back.str(CKA_LABEL, "hostile-data");
    EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, data_, back.data(), back.size()));
  }
  rv = f()->C_FindObjectsInit(s_, label.data(), label.size());
  EXPECT_CKR_IN(rv, CKR_OK, CKR_ATTRIBUTE_VALUE_INVALID, CKR_DEVICE_MEMORY, CKR_HOST_MEMORY);
  if (rv == CKR_OK) {
    CK_OBJECT_HANDLE out[4];
    CK_ULONG n = 99;
    EXPECT_CKR(CKR_OK, f()->C_FindObjects(s_, out, 4, &n));
    EXPECT_EQ(n, 0u);
    EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
  }
  expect_intact();
}

// One attribute twice in a template. Two different values: CKR_TEMPLATE_INCONSISTENT wherever
// an object is made or changed (4.1.1 item 5); a search cannot answer that code (5.7.7) and
// matches nothing. The same value twice: as if given once, or CKR_TEMPLATE_INCONSISTENT (item 6).
TEST_F(HostileTest, DuplicateAttributes) {
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
  Template two_labels = data_object("one", "v", false, false);
  two_labels.str(CKA_LABEL, "two");
  Template two_tokens = data_object("tokens", "v", false, false);
  two_tokens.boolean(CKA_TOKEN, true);
  Template two_classes = data_object("classes", "v", false, false);
  two_classes.ulong(CKA_CLASS, CKO_CERTIFICATE);
  for (Template* t : {&two_labels, &two_tokens, &two_classes}) {
    EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, f()->C_CreateObject(s_, t->data(), t->size(), &h));
  }
  Template relabel;
  relabel.str(CKA_LABEL, "a").str(CKA_LABEL, "b");
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_SetAttributeValue(s_, data_, relabel.data(), relabel.size()));
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_CopyObject(s_, data_, relabel.data(), relabel.size(), &h));
  Template two_lengths;
  two_lengths.ulong(CKA_VALUE_LEN, 16).ulong(CKA_VALUE_LEN, 32);
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_GenerateKey(s_, &aes_gen_, two_lengths.data(), two_lengths.size(), &h));
  Template two_curves;
  two_curves.bytes(CKA_EC_PARAMS, ec_params_p256()).bytes(CKA_EC_PARAMS, ec_params_p384());
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_GenerateKeyPair(s_, &ec_gen_, two_curves.data(), two_curves.size(), nullptr, 0,
                                    &h, &h2));
  Template search;
  search.str(CKA_LABEL, "hostile-data").str(CKA_LABEL, "other");
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, search.data(), search.size()));
  CK_OBJECT_HANDLE out[4];
  CK_ULONG n = 99;
  EXPECT_CKR(CKR_OK, f()->C_FindObjects(s_, out, 4, &n));
  EXPECT_EQ(n, 0u);
  EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));

  Template same_length;
  same_length.ulong(CKA_VALUE_LEN, 16).ulong(CKA_VALUE_LEN, 16);
  CK_RV rv = f()->C_GenerateKey(s_, &aes_gen_, same_length.data(), same_length.size(), &h);
  EXPECT_CKR_IN(rv, CKR_OK, CKR_TEMPLATE_INCONSISTENT);
  if (rv == CKR_OK) {
    destroy({h});
  }
  Template same_label;
  same_label.str(CKA_LABEL, "hostile-data").str(CKA_LABEL, "hostile-data");
  EXPECT_CKR_IN(f()->C_SetAttributeValue(s_, data_, same_label.data(), same_label.size()), CKR_OK,
                CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(find_all(f(), s_, same_label), std::vector<CK_OBJECT_HANDLE>{data_});
  expect_intact();
}

// ======================= 4. Attribute values of the wrong size or form =======================
// (Lengths that lie: AttributeLengthsThatLie.) Key sizes out of range in a generation template,
// and garbage where a curve or an RSA modulus belongs.
TEST_F(HostileTest, WrongAttributeValues) {
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
  // C_GenerateKey has no CKR_KEY_SIZE_RANGE: an unusable CKA_VALUE_LEN is an invalid value.
  for (CK_ULONG len : {CK_ULONG{0}, CK_ULONG{15}, CK_ULONG{33}, CK_ULONG{1} << 40, ~CK_ULONG{0}}) {
    Template t;
    t.ulong(CKA_VALUE_LEN, len);
    EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
               f()->C_GenerateKey(s_, &aes_gen_, t.data(), t.size(), &h))
        << "AES " << len;
    CK_MECHANISM generic{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
    if (len == 15 || len == 33) {
      continue;  // fine for a generic secret
    }
    EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
               f()->C_GenerateKey(s_, &generic, t.data(), t.size(), &h))
        << "generic " << len;
  }

  // CKA_EC_PARAMS that name no curve: an invalid value, invalid domain parameters, or an
  // unsupported curve (all three are C_GenerateKeyPair and C_CreateObject codes).
  const std::vector<Bytes> garbage = {
      {0x06},                                      // an OID tag, no length
      {0x06, 0x08, 0x2a, 0x86},                    // an OID shorter than its length
      {0x06, 0x84, 0xff, 0xff, 0xff, 0xff, 0x2a},  // a 4 GiB length
      {0x30, 0x80, 0x30, 0x80, 0x30, 0x80},        // indefinite lengths, nested
      {0x13, 0x05, 'n', 'o', 'n', 'e', '1'},       // a curve by a name no one knows
      Bytes(4096, 0x30),                           // nested SEQUENCE headers
      Bytes(1 << 16, 0xa5),
  };
  Bytes point = attr_bytes(f(), s_, ec_.pub, CKA_EC_POINT);
  for (const Bytes& params : garbage) {
    SCOPED_TRACE("EC params " + to_hex(Bytes(params.begin(),
                                             params.begin() + std::min<size_t>(params.size(), 8))));
    Template pub;
    pub.bytes(CKA_EC_PARAMS, params);
    EXPECT_CKR_IN(f()->C_GenerateKeyPair(s_, &ec_gen_, pub.data(), pub.size(), nullptr, 0, &h, &h2),
                  CKR_ATTRIBUTE_VALUE_INVALID, CKR_DOMAIN_PARAMS_INVALID, CKR_CURVE_NOT_SUPPORTED);
    Template key;
    key.ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, params)
        .bytes(CKA_EC_POINT, point);
    EXPECT_CKR_IN(f()->C_CreateObject(s_, key.data(), key.size(), &h), CKR_ATTRIBUTE_VALUE_INVALID,
                  CKR_DOMAIN_PARAMS_INVALID, CKR_CURVE_NOT_SUPPORTED);
  }
  // A P-256 public key whose point is garbage: an invalid value.
  for (const Bytes& bad_point :
       {Bytes{}, Bytes{0x04}, Bytes{0x04, 0x41, 0x04}, Bytes(65, 0x04), Bytes(1 << 16, 0x04)}) {
    Template key;
    key.ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, ec_params_p256());
    key.bytes(CKA_EC_POINT, bad_point);
    EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, f()->C_CreateObject(s_, key.data(), key.size(), &h))
        << bad_point.size();
  }

  // RSA public keys whose modulus or exponent is garbage: an invalid value.
  Bytes odd_garbage(256, 0xa5);  // 2048 bits, odd, divisible by 3 and 5
  Bytes even(256, 0xfe);
  struct Rsa {
    const char* what;
    Bytes modulus, exponent;
  };
  for (const Rsa& r :
       {Rsa{"empty modulus", {}, {1, 0, 1}}, Rsa{"zero modulus", {0}, {1, 0, 1}},
        Rsa{"one-byte modulus", {0x0f}, {1, 0, 1}}, Rsa{"even modulus", even, {1, 0, 1}},
        Rsa{"composite garbage", odd_garbage, {1, 0, 1}},
        Rsa{"64 KiB modulus", Bytes(1 << 16, 0xa5), {1, 0, 1}},
        Rsa{"empty exponent", odd_garbage, {}}, Rsa{"exponent 1", odd_garbage, {1}},
        Rsa{"even exponent", odd_garbage, {1, 0, 0}}}) {
    Template key;
    key.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_RSA);
    key.bytes(CKA_MODULUS, r.modulus).bytes(CKA_PUBLIC_EXPONENT, r.exponent);
    EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, f()->C_CreateObject(s_, key.data(), key.size(), &h))
        << r.what;
  }
  expect_intact();
}

// ======================= 5. Handles from another session or slot =======================

// Two slots: slot 0 is device(), slot 1 a second device; a user session on each.
class ForeignHandlesTest : public HostileTest {
 protected:
  bool initialize_in_setup() override { return false; }
  // No objects in slot 0 yet (make_objects() adds HostileTest's): handles of the two tokens are
  // numbered independently, so a slot-1 handle would name a slot-0 object of the same number.
  void SetUp() override {
    P11Test::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    other_ = std::make_unique<TempDevice>();
    fs::path conf = device().root() / "two-slots.toml";
    write_config(conf, {device().dir(), other_->dir()});
    set_config(conf);
    ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
    s_ = open_session();
    ASSERT_CKR(CKR_OK, login_user(s_));
    ASSERT_CKR(CKR_OK, f()->C_OpenSession(1, kRwSession, nullptr, nullptr, &s1_));
    ASSERT_CKR(CKR_OK, login(s1_, CKU_USER, other_->user_pin()));
  }
  void TearDown() override {
    P11Test::TearDown();
    other_.reset();
  }
  // Every object function on h in session s answers CKR_OBJECT_HANDLE_INVALID; every key use,
  // the key's handle code.
  void expect_foreign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
    expect_object_handle_invalid(s, h);
    SCOPED_TRACE("handle " + std::to_string(h));
    Bytes buf(64);
    CK_OBJECT_HANDLE copy;
    EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_SignInit(s, &ecdsa_, h));
    EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_VerifyInit(s, &ecdsa_, h));
    EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_EncryptInit(s, &cbc_pad_, h));
    EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_DecryptInit(s, &cbc_pad_, h));
    CK_ULONG len = buf.size();
    Template unwrap_tmpl = secret_key_template(CKK_AES);
    EXPECT_CKR(CKR_WRAPPING_KEY_HANDLE_INVALID,
               f()->C_WrapKey(s, &key_wrap_, h, h, buf.data(), &len));
    EXPECT_CKR(CKR_UNWRAPPING_KEY_HANDLE_INVALID,
               f()->C_UnwrapKey(s, &key_wrap_, h, buf.data(), 40, unwrap_tmpl.data(),
                                unwrap_tmpl.size(), &copy));
    ASSERT_CKR(CKR_OK, f()->C_DigestInit(s, &sha256_));
    EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_DigestKey(s, h));
    f()->C_SessionCancel(s, kAllOperations);
  }
  std::unique_ptr<TempDevice> other_;
  CK_SESSION_HANDLE s1_ = CK_INVALID_HANDLE;
};

// Objects of slot 1 (token and session objects, keys) named in a session of slot 0.
TEST_F(ForeignHandlesTest, ObjectHandlesOfAnotherSlot) {
  std::vector<CK_OBJECT_HANDLE> foreign = {
      create(f(), s1_, data_object("slot-1 token", "v", true, false)),
      create(f(), s1_, data_object("slot-1 session", "v", false, false)),
      create(f(), s1_, aes_key(Bytes(32, 9), true, true)),
      create(f(), s1_, aes_key(Bytes(32, 8), false, true)),
  };
  KeyPair kp = generate_ec(s1_);
  foreign.push_back(kp.pub);
  foreign.push_back(kp.priv);
  ASSERT_TRUE(find_all(f(), s_).empty())
      << "slot 0 must have no object a foreign handle could name";
  for (CK_OBJECT_HANDLE h : foreign) {
    ASSERT_NE(h, CK_INVALID_HANDLE);
    expect_foreign(s_, h);
  }
  // Slot 1 is as it was, and its key still signs; slot 0 gained nothing.
  EXPECT_EQ(find_all(f(), s1_).size(), foreign.size());
  EXPECT_EQ(attr_bytes(f(), s1_, foreign[0], CKA_LABEL), to_bytes("slot-1 token"));
  Bytes msg = to_bytes("slot 1");
  EXPECT_CKR(CKR_OK, verify(s1_, kp.pub, msg, sign(s1_, kp.priv, msg)));
  EXPECT_TRUE(find_all(f(), s_).empty());
}

// A closed session's handle, and the session objects and operation it had.
TEST_F(ForeignHandlesTest, ClosedSessionAndItsObjects) {
  CK_SESSION_HANDLE closed;
  ASSERT_CKR(CKR_OK, f()->C_OpenSession(1, kRwSession, nullptr, nullptr, &closed));
  CK_OBJECT_HANDLE data = create(f(), closed, data_object("ephemeral", "v", false, false));
  KeyPair kp = generate_ec(closed);
  ASSERT_CKR(CKR_OK, f()->C_SignInit(closed, &ecdsa_, kp.priv));
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(closed));

  Bytes buf(64);
  CK_ULONG len = buf.size();
  CK_SESSION_INFO info;
  std::string pin = other_->user_pin();
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_Sign(closed, buf.data(), 8, buf.data(), &len));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GetSessionInfo(closed, &info));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_SignInit(closed, &ecdsa_, kp.priv));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_DigestInit(closed, &sha256_));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_Login(closed, CKU_USER, utf8(pin), pin.size()));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_Logout(closed));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GenerateRandom(closed, buf.data(), 16));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_SessionCancel(closed, kAllOperations));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_CloseSession(closed));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GetFunctionStatus(closed));
  EXPECT_CKR_IN(f()->C_GetOperationState(closed, buf.data(), &len), CKR_SESSION_HANDLE_INVALID,
                CKR_FUNCTION_NOT_SUPPORTED);
  // Its session objects died with it, for the other session of its slot and for slot 0.
  for (CK_OBJECT_HANDLE h : {data, kp.pub, kp.priv}) {
    expect_foreign(s1_, h);
    expect_foreign(s_, h);
  }
  EXPECT_TRUE(find_all(f(), s1_).empty());
  // The user is still logged in on slot 1 through s1_.
  EXPECT_EQ(session_state(s1_), CKS_RW_USER_FUNCTIONS);
}

// An operation started in session A is not B's to continue (nor slot 1's), and B's attempts
// leave A's operation intact.
TEST_F(ForeignHandlesTest, OperationsDoNotCrossSessions) {
  make_objects();
  CK_SESSION_HANDLE a = s_, b = open_session();
  Bytes msg = to_bytes("operation of session A");
  Bytes buf(64);
  Bytes sig = sign(a, ec_.priv, msg);  // a signature for the verification below
  ASSERT_CKR(CKR_OK, sign_init(a));
  ASSERT_CKR(CKR_OK, verify_init(a));
  ASSERT_CKR(CKR_OK, encrypt_init(a));
  ASSERT_CKR(CKR_OK, digest_init(a));
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(a, nullptr, 0));
  for (CK_SESSION_HANDLE other : {b, s1_}) {
    SCOPED_TRACE("session " + std::to_string(other));
    CK_ULONG len = buf.size();
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n;
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
               f()->C_Sign(other, msg.data(), msg.size(), buf.data(), &len));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_SignUpdate(other, msg.data(), msg.size()));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_SignFinal(other, buf.data(), &len));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
               f()->C_Verify(other, msg.data(), msg.size(), sig.data(), sig.size()));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
               f()->C_Encrypt(other, msg.data(), msg.size(), buf.data(), &len));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_EncryptFinal(other, buf.data(), &len));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
               f()->C_Digest(other, msg.data(), msg.size(), buf.data(), &len));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_DigestKey(other, aes_));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_FindObjects(other, found, 4, &n));
    EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_FindObjectsFinal(other));
  }
  // A's operations are all still there and complete.
  CK_ULONG len = 64;
  Bytes sig_a(64);
  ASSERT_CKR(CKR_OK, f()->C_Sign(a, msg.data(), msg.size(), sig_a.data(), &len));
  EXPECT_CKR(CKR_OK, f()->C_Verify(a, msg.data(), msg.size(), sig.data(), sig.size()));
  len = buf.size();
  EXPECT_CKR(CKR_OK, f()->C_Encrypt(a, msg.data(), msg.size(), buf.data(), &len));
  len = buf.size();
  EXPECT_CKR(CKR_OK, f()->C_Digest(a, msg.data(), msg.size(), buf.data(), &len));
  CK_OBJECT_HANDLE found[16];
  CK_ULONG n = 0;
  EXPECT_CKR(CKR_OK, f()->C_FindObjects(a, found, 16, &n));
  EXPECT_EQ(n, baseline_);
  EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(a));
  EXPECT_CKR(CKR_OK, verify(b, ec_.pub, msg, sig_a));
  expect_intact();
}

// Handles 0 (CK_INVALID_HANDLE), ~0 and one past the last, for sessions, objects and slots.
TEST_F(ForeignHandlesTest, BoundaryHandles) {
  make_objects();
  CK_SESSION_HANDLE last_session = std::max(s_, s1_);
  CK_OBJECT_HANDLE last_token = create(f(), s_, data_object("last token", "v", true, false));
  CK_OBJECT_HANDLE last_session_object =
      create(f(), s_, data_object("last session", "v", false, false));
  size_t objects = find_all(f(), s_).size();
  Bytes buf(64);
  for (CK_SESSION_HANDLE bad :
       {CK_SESSION_HANDLE{CK_INVALID_HANDLE}, ~CK_SESSION_HANDLE{0}, last_session + 1}) {
    SCOPED_TRACE("session " + std::to_string(bad));
    CK_SESSION_INFO info;
    CK_ULONG len = buf.size();
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GetSessionInfo(bad, &info));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_SignInit(bad, &ecdsa_, ec_.priv));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_Sign(bad, buf.data(), 8, buf.data(), &len));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_FindObjectsInit(bad, nullptr, 0));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GenerateRandom(bad, buf.data(), 8));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_Logout(bad));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_CloseSession(bad));
  }
  for (CK_OBJECT_HANDLE bad : {CK_OBJECT_HANDLE{CK_INVALID_HANDLE}, ~CK_OBJECT_HANDLE{0},
                               last_token + 1, last_session_object + 1}) {
    expect_foreign(s_, bad);
  }
  for (CK_SLOT_ID bad : {CK_SLOT_ID{2}, ~CK_SLOT_ID{0}}) {
    SCOPED_TRACE("slot " + std::to_string(bad));
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_MECHANISM_INFO mi;
    CK_ULONG count = 0;
    CK_SESSION_HANDLE s;
    std::string so_pin = device().so_pin();
    CK_UTF8CHAR label[32];
    std::memset(label, ' ', sizeof label);
    EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_GetSlotInfo(bad, &si));
    EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_GetTokenInfo(bad, &ti));
    EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_GetMechanismList(bad, nullptr, &count));
    EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_GetMechanismInfo(bad, CKM_SHA256, &mi));
    EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_OpenSession(bad, kRwSession, nullptr, nullptr, &s));
    EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_CloseAllSessions(bad));
    EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_InitToken(bad, utf8(so_pin), so_pin.size(), label));
  }
  EXPECT_EQ(find_all(f(), s_).size(), objects);
  EXPECT_EQ(session_state(s_), CKS_RW_USER_FUNCTIONS);
  EXPECT_EQ(session_state(s1_), CKS_RW_USER_FUNCTIONS);
}

// ======================= 6. Calls after C_Finalize =======================

// Every function of the 3.0 list that needs C_Initialize, called after C_Finalize with handles
// that were valid (a session with operations active, its objects, the slot):
// CKR_CRYPTOKI_NOT_INITIALIZED (the stubs may answer CKR_FUNCTION_NOT_SUPPORTED, and the legacy
// parallel functions CKR_FUNCTION_NOT_PARALLEL, instead). C_Finalize twice, and with pReserved.
TEST_F(HostileTest, CallsAfterFinalize) {
  Bytes buf(64), data = to_bytes("data");
  CK_ULONG len = buf.size();
  CK_BYTE* d = data.data();
  CK_ULONG dn = data.size();
  CK_OBJECT_HANDLE h, h2;
  size_t token_objects = count_objects(Template().boolean(CKA_TOKEN, true));
  ASSERT_CKR(CKR_OK, sign_init(s_));
  ASSERT_CKR(CKR_OK, encrypt_init(s_));
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
  ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));

  Template tmpl = data_object("after", "v", false, false);
  Template gen;
  gen.ulong(CKA_VALUE_LEN, 16);
  Template ec_pub;
  ec_pub.bytes(CKA_EC_PARAMS, ec_params_p256());
  std::string pin = device().user_pin(), so_pin = device().so_pin();
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  CK_INFO info;
  CK_SLOT_ID slots[4];
  CK_SLOT_INFO slot_info;
  CK_TOKEN_INFO token_info;
  CK_MECHANISM_TYPE mechanisms[128];
  CK_MECHANISM_INFO mechanism_info;
  CK_SESSION_INFO session_info;
  CK_SESSION_HANDLE s;
  CK_ULONG count = 4;
  CK_SLOT_ID event_slot;
  CK_ATTRIBUTE get{CKA_LABEL, buf.data(), buf.size()};
  CK_OBJECT_HANDLE found[4];
  CK_MECHANISM gcm{CKM_AES_GCM, nullptr, 0};
  const CK_RV kNotInit = CKR_CRYPTOKI_NOT_INITIALIZED;
  const Codes kStub = {kNotInit, CKR_FUNCTION_NOT_SUPPORTED};
  const Codes kLegacy = {kNotInit, CKR_FUNCTION_NOT_PARALLEL};
  std::vector<Case> calls = {
      HOSTILE_CASE(none, C_GetInfo(&info), kNotInit),
      HOSTILE_CASE(none, C_GetSlotList(CK_TRUE, slots, &count), kNotInit),
      HOSTILE_CASE(none, C_GetSlotInfo(0, &slot_info), kNotInit),
      HOSTILE_CASE(none, C_GetTokenInfo(0, &token_info), kNotInit),
      HOSTILE_CASE(none, C_GetMechanismList(0, mechanisms, &count), kNotInit),
      HOSTILE_CASE(none, C_GetMechanismInfo(0, CKM_SHA256, &mechanism_info), kNotInit),
      HOSTILE_CASE(none, C_InitToken(0, utf8(so_pin), so_pin.size(), label), kNotInit),
      HOSTILE_CASE(none, C_InitPIN(s_, utf8(pin), pin.size()), kNotInit),
      HOSTILE_CASE(none, C_SetPIN(s_, utf8(pin), pin.size(), utf8(pin), pin.size()), kNotInit),
      HOSTILE_CASE(none, C_OpenSession(0, kRwSession, nullptr, nullptr, &s), kNotInit),
      HOSTILE_CASE(none, C_CloseSession(s_), kNotInit),
      HOSTILE_CASE(none, C_CloseAllSessions(0), kNotInit),
      HOSTILE_CASE(none, C_GetSessionInfo(s_, &session_info), kNotInit),
      HOSTILE_CASE(none, C_GetOperationState(s_, buf.data(), &len), kStub),
      HOSTILE_CASE(none, C_SetOperationState(s_, buf.data(), 16, 0, 0), kStub),
      HOSTILE_CASE(none, C_Login(s_, CKU_USER, utf8(pin), pin.size()), kNotInit),
      HOSTILE_CASE(none, C_LoginUser(s_, CKU_USER, utf8(pin), pin.size(), nullptr, 0), kNotInit),
      HOSTILE_CASE(none, C_Logout(s_), kNotInit),
      HOSTILE_CASE(none, C_SessionCancel(s_, kAllOperations), kNotInit),
      HOSTILE_CASE(none, C_CreateObject(s_, tmpl.data(), tmpl.size(), &h), kNotInit),
      HOSTILE_CASE(none, C_CopyObject(s_, data_, nullptr, 0, &h), kNotInit),
      HOSTILE_CASE(none, C_DestroyObject(s_, data_), kNotInit),
      HOSTILE_CASE(none, C_GetObjectSize(s_, data_, &count), kNotInit),
      HOSTILE_CASE(none, C_GetAttributeValue(s_, data_, &get, 1), kNotInit),
      HOSTILE_CASE(none, C_SetAttributeValue(s_, data_, tmpl.data(), 1), kNotInit),
      HOSTILE_CASE(none, C_FindObjectsInit(s_, nullptr, 0), kNotInit),
      HOSTILE_CASE(none, C_FindObjects(s_, found, 4, &count), kNotInit),
      HOSTILE_CASE(none, C_FindObjectsFinal(s_), kNotInit),
      HOSTILE_CASE(none, C_EncryptInit(s_, &cbc_pad_, aes_), kNotInit),
      HOSTILE_CASE(none, C_Encrypt(s_, d, dn, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_EncryptUpdate(s_, d, dn, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_EncryptFinal(s_, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_DecryptInit(s_, &cbc_pad_, aes_), kNotInit),
      HOSTILE_CASE(none, C_Decrypt(s_, buf.data(), 16, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_DecryptUpdate(s_, buf.data(), 16, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_DecryptFinal(s_, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_DigestInit(s_, &sha256_), kNotInit),
      HOSTILE_CASE(none, C_Digest(s_, d, dn, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_DigestUpdate(s_, d, dn), kNotInit),
      HOSTILE_CASE(none, C_DigestKey(s_, aes_), kNotInit),
      HOSTILE_CASE(none, C_DigestFinal(s_, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_SignInit(s_, &ecdsa_, ec_.priv), kNotInit),
      HOSTILE_CASE(none, C_Sign(s_, d, dn, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_SignUpdate(s_, d, dn), kNotInit),
      HOSTILE_CASE(none, C_SignFinal(s_, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_SignRecoverInit(s_, &ecdsa_, ec_.priv), kStub),
      HOSTILE_CASE(none, C_SignRecover(s_, d, dn, buf.data(), &len), kStub),
      HOSTILE_CASE(none, C_VerifyInit(s_, &ecdsa_, ec_.pub), kNotInit),
      HOSTILE_CASE(none, C_Verify(s_, d, dn, buf.data(), 64), kNotInit),
      HOSTILE_CASE(none, C_VerifyUpdate(s_, d, dn), kNotInit),
      HOSTILE_CASE(none, C_VerifyFinal(s_, buf.data(), 64), kNotInit),
      HOSTILE_CASE(none, C_VerifyRecoverInit(s_, &ecdsa_, ec_.pub), kStub),
      HOSTILE_CASE(none, C_VerifyRecover(s_, buf.data(), 64, buf.data(), &len), kStub),
      HOSTILE_CASE(none, C_DigestEncryptUpdate(s_, d, dn, buf.data(), &len), kStub),
      HOSTILE_CASE(none, C_DecryptDigestUpdate(s_, d, dn, buf.data(), &len), kStub),
      HOSTILE_CASE(none, C_SignEncryptUpdate(s_, d, dn, buf.data(), &len), kStub),
      HOSTILE_CASE(none, C_DecryptVerifyUpdate(s_, d, dn, buf.data(), &len), kStub),
      HOSTILE_CASE(none, C_GenerateKey(s_, &aes_gen_, gen.data(), gen.size(), &h), kNotInit),
      HOSTILE_CASE(
          none, C_GenerateKeyPair(s_, &ec_gen_, ec_pub.data(), ec_pub.size(), nullptr, 0, &h, &h2),
          kNotInit),
      HOSTILE_CASE(none, C_WrapKey(s_, &key_wrap_, kek_, aes_, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_UnwrapKey(s_, &key_wrap_, kek_, buf.data(), 40, nullptr, 0, &h),
                   kNotInit),
      HOSTILE_CASE(none, C_DeriveKey(s_, &ecdsa_, ec_.priv, nullptr, 0, &h), kNotInit),
      HOSTILE_CASE(none, C_SeedRandom(s_, d, dn), kNotInit),
      HOSTILE_CASE(none, C_GenerateRandom(s_, buf.data(), 16), kNotInit),
      HOSTILE_CASE(none, C_GetFunctionStatus(s_), kLegacy),
      HOSTILE_CASE(none, C_CancelFunction(s_), kLegacy),
      HOSTILE_CASE(none, C_WaitForSlotEvent(CKF_DONT_BLOCK, &event_slot, nullptr), kStub),
      HOSTILE_CASE(none, C_MessageEncryptInit(s_, &gcm, aes_), kNotInit),
      HOSTILE_CASE(none, C_EncryptMessage(s_, buf.data(), 8, d, dn, d, dn, buf.data(), &len),
                   kNotInit),
      HOSTILE_CASE(none, C_EncryptMessageBegin(s_, buf.data(), 8, d, dn), kNotInit),
      HOSTILE_CASE(none, C_EncryptMessageNext(s_, buf.data(), 8, d, dn, buf.data(), &len, 0),
                   kNotInit),
      HOSTILE_CASE(none, C_MessageEncryptFinal(s_), kNotInit),
      HOSTILE_CASE(none, C_MessageDecryptInit(s_, &gcm, aes_), kNotInit),
      HOSTILE_CASE(none, C_DecryptMessage(s_, buf.data(), 8, d, dn, d, dn, buf.data(), &len),
                   kNotInit),
      HOSTILE_CASE(none, C_DecryptMessageBegin(s_, buf.data(), 8, d, dn), kNotInit),
      HOSTILE_CASE(none, C_DecryptMessageNext(s_, buf.data(), 8, d, dn, buf.data(), &len, 0),
                   kNotInit),
      HOSTILE_CASE(none, C_MessageDecryptFinal(s_), kNotInit),
      HOSTILE_CASE(none, C_MessageSignInit(s_, &ecdsa_, ec_.priv), kNotInit),
      HOSTILE_CASE(none, C_SignMessage(s_, buf.data(), 8, d, dn, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_SignMessageBegin(s_, buf.data(), 8), kNotInit),
      HOSTILE_CASE(none, C_SignMessageNext(s_, buf.data(), 8, d, dn, buf.data(), &len), kNotInit),
      HOSTILE_CASE(none, C_MessageSignFinal(s_), kNotInit),
      HOSTILE_CASE(none, C_MessageVerifyInit(s_, &ecdsa_, ec_.pub), kNotInit),
      HOSTILE_CASE(none, C_VerifyMessage(s_, buf.data(), 8, d, dn, buf.data(), 64), kNotInit),
      HOSTILE_CASE(none, C_VerifyMessageBegin(s_, buf.data(), 8), kNotInit),
      HOSTILE_CASE(none, C_VerifyMessageNext(s_, buf.data(), 8, d, dn, buf.data(), 64), kNotInit),
      HOSTILE_CASE(none, C_MessageVerifyFinal(s_), kNotInit),
  };
  // Every function of the list but C_Initialize, C_Finalize and the three that work without
  // C_Initialize (C_GetFunctionList, C_GetInterfaceList, C_GetInterface).
  EXPECT_EQ(calls.size(), 92u - 5u);
  run_cases(calls);

  int reserved = 0;
  EXPECT_CKR(kNotInit, f()->C_Finalize(nullptr));
  EXPECT_CKR_IN(f()->C_Finalize(&reserved), CKR_ARGUMENTS_BAD, kNotInit);
  CK_FUNCTION_LIST* list2 = nullptr;
  EXPECT_CKR(CKR_OK, f()->C_GetFunctionList(&list2));
  count = 0;
  EXPECT_CKR(CKR_OK, f()->C_GetInterfaceList(nullptr, &count));
  CK_INTERFACE* iface = nullptr;
  EXPECT_CKR(CKR_OK, f()->C_GetInterface(nullptr, nullptr, &iface, 0));

  // Initialized again: the old session is gone (its operations with it), the token objects are
  // all there, the session objects are not, and the token works.
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_Sign(s_, d, dn, buf.data(), &len));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_FindObjectsFinal(s_));
  s_ = open_session();
  ASSERT_CKR(CKR_OK, login_user(s_));
  EXPECT_EQ(count_objects(), token_objects);
  EXPECT_EQ(attr_bytes(f(), s_, data_, CKA_VALUE), to_bytes("0123456789"));
  KeyPair kp = generate_ec(s_);
  Bytes msg = to_bytes("after a restart");
  EXPECT_CKR(CKR_OK, verify(s_, kp.pub, msg, sign(s_, kp.priv, msg)));
  EXPECT_CKR(CKR_OK, f()->C_Finalize(nullptr));
  EXPECT_CKR(kNotInit, f()->C_Finalize(nullptr));
}

// ======================= 7. Re-entrant and concurrent C_Initialize =======================

class HostileInitializeTest : public P11Test {
 protected:
  bool initialize_in_setup() override { return false; }
  // expect_usable: initialized (or initializes), and a session finds and makes objects.
  void expect_usable() {
    CK_RV rv = f()->C_Initialize(nullptr);
    EXPECT_CKR_IN(rv, CKR_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CK_SESSION_HANDLE s = open_session();
    CK_OBJECT_HANDLE h = create(f(), s, data_object("usable", "v", false, false));
    EXPECT_EQ(find_all(f(), s), std::vector<CK_OBJECT_HANDLE>{h});
    EXPECT_CKR(CKR_OK, f()->C_Finalize(nullptr));
  }
};

CK_RV create_mutex(CK_VOID_PTR_PTR m) {
  *m = new int(0);
  return CKR_OK;
}
CK_RV destroy_mutex(CK_VOID_PTR m) {
  delete static_cast<int*>(m);
  return CKR_OK;
}
CK_RV lock_mutex(CK_VOID_PTR) {
  return CKR_OK;
}
CK_RV unlock_mutex(CK_VOID_PTR) {
  return CKR_OK;
}

TEST_F(HostileInitializeTest, TwiceAndBadArguments) {
  int reserved = 0;
  CK_C_INITIALIZE_ARGS bad_reserved{};
  bad_reserved.flags = CKF_OS_LOCKING_OK;
  bad_reserved.pReserved = &reserved;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_Initialize(&bad_reserved));
  // Some but not all of the four mutex functions: every such combination, with and without OS
  // locking allowed.
  for (unsigned mask = 1; mask < 15; ++mask) {
    for (CK_FLAGS flags : {CK_FLAGS{0}, CK_FLAGS{CKF_OS_LOCKING_OK}}) {
      CK_C_INITIALIZE_ARGS args{};
      args.flags = flags;
      args.CreateMutex = (mask & 1) ? create_mutex : nullptr;
      args.DestroyMutex = (mask & 2) ? destroy_mutex : nullptr;
      args.LockMutex = (mask & 4) ? lock_mutex : nullptr;
      args.UnlockMutex = (mask & 8) ? unlock_mutex : nullptr;
      EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_Initialize(&args))
          << "mask " << mask << ", flags " << flags;
    }
  }
  CK_INFO info;
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, f()->C_GetInfo(&info))
      << "a refused C_Initialize initialized";
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  EXPECT_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED, f()->C_Initialize(nullptr));
  CK_C_INITIALIZE_ARGS os{};
  os.flags = CKF_OS_LOCKING_OK;
  EXPECT_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED, f()->C_Initialize(&os));
  EXPECT_CKR(CKR_OK, f()->C_GetInfo(&info));
  expect_usable();
}

// Mutex callbacks that call back into the module (C_Initialize, or C_Finalize) while it
// initializes: whatever the module does must be a C_Initialize code, without deadlock or crash.
// (twinhsm never calls the callbacks: it uses OS locking, or refuses with CKR_CANT_LOCK.)
CK_FUNCTION_LIST_3_0* g_list = nullptr;
bool g_reenter_finalize = false;
std::mutex g_seen_mutex;
std::vector<CK_RV> g_seen;  // what the re-entrant calls answered

CK_RV reentrant_create_mutex(CK_VOID_PTR_PTR m) {
  CK_RV rv = g_reenter_finalize ? g_list->C_Finalize(nullptr) : g_list->C_Initialize(nullptr);
  {
    std::lock_guard lock(g_seen_mutex);
    g_seen.push_back(rv);
  }
  return create_mutex(m);
}

TEST_F(HostileInitializeTest, MutexCallbacksThatReenter) {
  g_list = f();
  for (bool finalize : {false, true}) {
    for (CK_FLAGS flags : {CK_FLAGS{CKF_OS_LOCKING_OK}, CK_FLAGS{0}}) {
      SCOPED_TRACE(std::string(finalize ? "C_Finalize" : "C_Initialize") +
                   " from CreateMutex, flags " + std::to_string(flags));
      g_reenter_finalize = finalize;
      CK_C_INITIALIZE_ARGS args{reentrant_create_mutex, destroy_mutex, lock_mutex,
                                unlock_mutex,           flags,         nullptr};
      CK_RV rv = CKR_GENERAL_ERROR;
      with_watchdog(std::chrono::seconds(30), [&] { rv = f()->C_Initialize(&args); });
      // With OS locking allowed the module may use either: it must succeed. With only the
      // application's mutexes it uses them or cannot lock.
      if (flags & CKF_OS_LOCKING_OK) {
        EXPECT_CKR(CKR_OK, rv);
      } else {
        EXPECT_CKR_IN(rv, CKR_OK, CKR_CANT_LOCK);
      }
      with_watchdog(std::chrono::seconds(30), [&] {
        EXPECT_CKR_IN(f()->C_Finalize(nullptr), CKR_OK, CKR_CRYPTOKI_NOT_INITIALIZED);
      });
    }
  }
  std::lock_guard lock(g_seen_mutex);
  for (CK_RV rv : g_seen) {
    EXPECT_TRUE(
        allowed({CKR_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED, CKR_CRYPTOKI_NOT_INITIALIZED}, rv))
        << rv_name(rv);
  }
  RecordProperty("reentrant_calls", static_cast<int>(g_seen.size()));
  g_seen.clear();
  expect_usable();
}

// Two threads calling C_Initialize and C_Finalize 1000 times each, concurrently: every call
// answers CKR_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED or CKR_CRYPTOKI_NOT_INITIALIZED, the successes
// alternate (initializations - finalizations is 0 or 1, matching the final state), no deadlock.
TEST_F(HostileInitializeTest, ConcurrentInitializeAndFinalize) {
  constexpr int kRounds = 1000;
  std::atomic<int> initialized{0}, finalized{0}, unexpected{0};
  auto hammer = [&] {
    for (int i = 0; i < kRounds; ++i) {
      CK_RV rv = f()->C_Initialize(nullptr);
      if (rv == CKR_OK) {
        ++initialized;
      } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        ++unexpected;
      }
      rv = f()->C_Finalize(nullptr);
      if (rv == CKR_OK) {
        ++finalized;
      } else if (rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
        ++unexpected;
      }
    }
  };
  with_watchdog(std::chrono::seconds(120), [&] {
    std::thread a(hammer), b(hammer);
    a.join();
    b.join();
  });
  EXPECT_EQ(unexpected.load(), 0);
  CK_INFO info;
  CK_RV state = f()->C_GetInfo(&info);
  EXPECT_CKR_IN(state, CKR_OK, CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(initialized.load() - finalized.load(), state == CKR_OK ? 1 : 0);
  EXPECT_GT(initialized.load(), 0);
  expect_usable();
}

}  // namespace
}  // namespace twinhsm::test
