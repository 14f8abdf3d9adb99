// The implementations pkcs11_bench compares, behind one interface: any PKCS#11 module loaded by
// path (dlopen + C_GetFunctionList) and raw OpenSSL 3 (EVP directly). They do the same work on
// the same data: TestData holds the keys (generated once with OpenSSL, imported into every token)
// and the inputs.
#pragma once

#include <openssl/evp.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.h"
#include "common/pkcs11.h"

namespace bench {

// The timed operations that every implementation offers (or reports n/a for).
enum class Work {
  rsa2048_sign,
  ecdsa_p256_sign,
  ed25519_sign,
  aes256_gcm_1m,
  aes256_cbc_pad_1m,
  hmac_sha256_1k,
  sha256_64,   // C_DigestInit + C_Digest (small_ops.h)
  get_label,   // C_GetAttributeValue of CKA_LABEL (no OpenSSL counterpart)
  open_close,  // C_OpenSession + C_CloseSession (no OpenSSL counterpart)
};
const char* work_name(Work w);

constexpr size_t kMessageSize = 64;    // signed message
constexpr size_t kBulkSize = 1 << 20;  // AES input
constexpr size_t kHmacSize = 1024;     // HMAC input

struct PKeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, PKeyFree>;

struct TestData {
  TestData();  // generates everything (RSA-2048, P-256, Ed25519, AES-256 and HMAC keys, inputs)
  PKeyPtr rsa, ec, ed;
  Bytes aes_key, hmac_key, message, gcm_iv, cbc_iv, bulk, hmac_data;
  std::string user_pin = "bench-user-pin";
  std::string so_pin = "bench-so-pin";
  unsigned pbkdf2_iterations = 600000;
};

// Unsupported: the implementation cannot do this work (the figure is printed n/a, with why).
class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// P11Error: a PKCS#11 call failed.
class P11Error : public std::runtime_error {
 public:
  P11Error(const std::string& function, CK_RV rv);
  CK_RV rv() const { return rv_; }

 private:
  CK_RV rv_;
};
std::string rv_name(CK_RV rv);

// Op is one repeatable operation bound to its own context (a PKCS#11 session, an EVP context):
// run() does the work once and leaves the output in *out.
struct Op {
  std::function<void()> run;
  std::shared_ptr<Bytes> out;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // make_op returns an operation with its own context (safe to run on its own thread while other
  // ops run). Throws Unsupported when the work cannot be done here.
  virtual Op make_op(Work w) = 0;
};

// The raw OpenSSL baseline: what a program that holds the parsed key does per operation.
//   signatures: EVP_MD_CTX reset + EVP_DigestSignInit + EVP_DigestSign
//   AES:        EVP_EncryptInit_ex + EVP_EncryptUpdate + EVP_EncryptFinal_ex (+ GCM tag)
//   HMAC:       EVP_MAC_init + EVP_MAC_update + EVP_MAC_final on a reused EVP_MAC_CTX
class OpenSslBackend : public Backend {
 public:
  explicit OpenSslBackend(const TestData& data) : data_(data) {}
  std::string name() const override { return "OpenSSL"; }
  Op make_op(Work w) override;
  // pbkdf2 runs PBKDF2-HMAC-SHA256 with the devices' iteration count on the user PIN (32-byte
  // salt and output, as twinhsm's login).
  void pbkdf2() const;

 private:
  const TestData& data_;
};

// pbkdf2_sha256 runs PBKDF2-HMAC-SHA256 over pin with a random 32-byte salt and 32-byte output
// (what twinhsm's login stretches), iterations times.
void pbkdf2_sha256(const std::string& pin, unsigned iterations);

// Module is a PKCS#11 library loaded with dlopen; f() is its C_GetFunctionList list.
class Module {
 public:
  explicit Module(const std::string& path);
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  CK_FUNCTION_LIST* f() const { return f_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* f_ = nullptr;
};

// check throws P11Error unless rv is CKR_OK.
void check(CK_RV rv, const char* function);

// initialize calls C_Initialize with CKF_OS_LOCKING_OK (several threads use the module).
void initialize(CK_FUNCTION_LIST* f);

// Padded 32-byte token label.
std::string padded_label(const std::string& label);
// find_slot returns the slot whose token has this label; throws if none.
CK_SLOT_ID find_slot(CK_FUNCTION_LIST* f, const std::string& label);

// The bulk objects of the object benchmarks: AES-256 secret keys, token and private, labelled
// object_label(i) with CKA_ID object_id(i); the public ones public_label(i), public_id(i).
std::string object_label(size_t i);
std::string object_id(size_t i);
std::string public_label(size_t i);
std::string public_id(size_t i);
// What a find looks up by: CKA_LABEL, CKA_ID, or CKA_CLASS (CKO_SECRET_KEY) and CKA_ID.
enum class FindBy { label, id, class_id };

// P11Backend is one token of a PKCS#11 module, initialized and with the user PIN set, in which it
// imports TestData's keys as private token objects. It keeps one read-write session logged in as
// the user for the whole run (twinhsm logs out when the last session closes).
class P11Backend : public Backend {
 public:
  // Loads the module, C_Initialize (CKF_OS_LOCKING_OK), takes the slot of the token labelled
  // token_label, opens the main session, logs the user in and imports the keys; with
  // import_keys false it finds them by label instead (a second view of a token another
  // P11Backend filled, e.g. through p11-kit server: isolated_backend.h).
  P11Backend(std::string name, const std::string& module_path, const std::string& token_label,
             const TestData& data, bool import_keys = true);
  ~P11Backend() override;
  std::string name() const override { return name_; }
  Op make_op(Work w) override;

  CK_FUNCTION_LIST* f() const { return module_.f(); }
  CK_SLOT_ID slot() const { return slot_; }
  const std::string& module_path() const { return module_.path(); }
  // ecdsa_prehash: the module lacks CKM_ECDSA_SHA256 and ECDSA runs as SHA-256 here + CKM_ECDSA.
  bool ecdsa_prehash() const { return ecdsa_prehash_; }

  // login logs the main session out, then times one C_Login of the user.
  Timing login();
  // create_objects makes bulk objects [from, to) (C_CreateObject each, as an application does):
  // private AES keys object_label(i), object_id(i); create_public_objects the same, public
  // (CKA_PRIVATE false), labelled public_label(i) with CKA_ID public_id(i).
  void create_objects(size_t from, size_t to);
  void create_public_objects(size_t from, size_t to);
  size_t objects() const { return objects_; }
  size_t public_objects() const { return public_objects_; }
  // filled notes that other processes made the bulk objects up to to (Workers::fill).
  void filled(size_t to, bool private_objects) {
    size_t& n = private_objects ? objects_ : public_objects_;
    n = std::max(n, to);
  }
  // find_op looks up one bulk object among the first n (private or public) by by, a different
  // one each call: C_FindObjectsInit + C_FindObjects + C_FindObjectsFinal; exactly one must match.
  Op find_op(FindBy by, bool private_objects, size_t n);
  // count_by_id counts the objects with this CKA_ID that the main session sees; count_secret_keys
  // the secret keys it sees (a listing by CKA_CLASS, private objects too when logged in).
  size_t count_by_id(const std::string& id);
  size_t count_secret_keys();

 private:
  CK_SESSION_HANDLE open_session();
  bool has_mechanism(CK_MECHANISM_TYPE m);
  // find_keys looks the keys up by label in the main session (all: every key, else only those
  // imported); exactly one object must have each label.
  void find_keys(bool all);
  // import makes a token object with C_CreateObject in the main session.
  CK_OBJECT_HANDLE import(std::vector<CK_ATTRIBUTE> tmpl);
  // count counts the objects the main session finds with the template.
  size_t count(std::vector<CK_ATTRIBUTE> tmpl);

  std::string name_;
  Module module_;
  CK_SLOT_ID slot_ = 0;
  const TestData& data_;
  CK_SESSION_HANDLE main_ = CK_INVALID_HANDLE;
  size_t objects_ = 0;
  size_t public_objects_ = 0;
  struct Key {
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    std::string error;  // why there is no key
  };
  Key rsa_, ec_, ed_, aes_, hmac_;
  bool ecdsa_prehash_ = false;  // no CKM_ECDSA_SHA256: hash here, sign with CKM_ECDSA
};

// Checks that out is what the OpenSSL baseline computes for w on the same data (ECDSA: verifies
// the r || s signature). Returns "" or what is wrong.
std::string check_output(Work w, const TestData& data, const Bytes& out, const Bytes& openssl_out);

}  // namespace bench
