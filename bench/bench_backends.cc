#include "bench_backends.h"

#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstring>

#include "openssl_util.h"
#include "small_ops.h"

namespace bench {

const char* work_name(Work w) {
  switch (w) {
    case Work::rsa2048_sign:
      return "RSA-2048 sign";
    case Work::ecdsa_p256_sign:
      return "ECDSA P-256 sign";
    case Work::ed25519_sign:
      return "Ed25519 sign";
    case Work::aes256_gcm_1m:
      return "AES-256-GCM encrypt";
    case Work::aes256_cbc_pad_1m:
      return "AES-256-CBC-PAD encrypt";
    case Work::hmac_sha256_1k:
      return "HMAC-SHA256";
    case Work::sha256_64:
      return "SHA-256 64 B";
    case Work::get_label:
      return "C_GetAttributeValue(CKA_LABEL)";
    case Work::open_close:
      return "C_OpenSession + C_CloseSession";
  }
  return "?";
}

namespace {

Bytes bn_param(const EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  ossl(EVP_PKEY_get_bn_param(key, name, &bn), name);
  Bytes out(static_cast<size_t>(pad ? pad : BN_num_bytes(bn)));
  BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
  BN_clear_free(bn);
  return out;
}

PKeyPtr keygen(const char* type, const char* arg) {
  EVP_PKEY* k = nullptr;
  if (std::strcmp(type, "RSA") == 0) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  } else if (arg) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type, arg);
  } else {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  }
  if (!k) {
    openssl_failed(type);
  }
  return PKeyPtr(k);
}

const Bytes kP256Params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const Bytes kEd25519Oid = {0x06, 0x03, 0x2b, 0x65, 0x70};
// PrintableString "edwards25519", the other encoding PKCS#11 3.0 allows.
const Bytes kEd25519Name = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};

// An attribute template whose values it owns.
class Template {
 public:
  Template& raw(CK_ATTRIBUTE_TYPE t, Bytes v) {
    values_.push_back(std::make_unique<Bytes>(std::move(v)));
    types_.push_back(t);
    return *this;
  }
  Template& str(CK_ATTRIBUTE_TYPE t, const std::string& s) {
    return raw(t, Bytes(s.begin(), s.end()));
  }
  Template& boolean(CK_ATTRIBUTE_TYPE t, bool b) {
    return raw(t, Bytes{static_cast<unsigned char>(b ? 1 : 0)});
  }
  Template& ulong(CK_ATTRIBUTE_TYPE t, CK_ULONG v) {
    Bytes b(sizeof v);
    std::memcpy(b.data(), &v, sizeof v);
    return raw(t, std::move(b));
  }
  std::vector<CK_ATTRIBUTE> attrs() const {
    std::vector<CK_ATTRIBUTE> out;
    for (size_t i = 0; i < types_.size(); ++i) {
      out.push_back({types_[i], values_[i]->data(), values_[i]->size()});
    }
    return out;
  }

 private:
  std::vector<CK_ATTRIBUTE_TYPE> types_;
  std::vector<std::unique_ptr<Bytes>> values_;
};

Template private_token_object(CK_OBJECT_CLASS cls, CK_KEY_TYPE type, const std::string& label) {
  Template t;
  t.ulong(CKA_CLASS, cls).ulong(CKA_KEY_TYPE, type).boolean(CKA_TOKEN, true);
  t.boolean(CKA_PRIVATE, true).boolean(CKA_SENSITIVE, true).str(CKA_LABEL, label);
  t.str(CKA_ID, label);
  return t;
}

// Closes a session when the last Op using it goes.
struct SessionHolder {
  SessionHolder(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE handle) : f(fl), h(handle) {}
  SessionHolder(const SessionHolder&) = delete;
  SessionHolder& operator=(const SessionHolder&) = delete;
  ~SessionHolder() { f->C_CloseSession(h); }
  CK_FUNCTION_LIST* f;
  CK_SESSION_HANDLE h;
};

}  // namespace

TestData::TestData()
    : rsa(keygen("RSA", nullptr)),
      ec(keygen("EC", "P-256")),
      ed(keygen("ED25519", nullptr)),
      aes_key(random_bytes(32)),
      hmac_key(random_bytes(32)),
      message(random_bytes(kMessageSize)),
      gcm_iv(random_bytes(12)),
      cbc_iv(random_bytes(16)),
      bulk(random_bytes(kBulkSize)),
      hmac_data(random_bytes(kHmacSize)) {}

P11Error::P11Error(const std::string& function, CK_RV rv)
    : std::runtime_error(function + ": " + rv_name(rv)), rv_(rv) {}

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define NAME(x) \
  case x:       \
    return #x;
    NAME(CKR_OK)
    NAME(CKR_HOST_MEMORY)
    NAME(CKR_SLOT_ID_INVALID)
    NAME(CKR_GENERAL_ERROR)
    NAME(CKR_FUNCTION_FAILED)
    NAME(CKR_ARGUMENTS_BAD)
    NAME(CKR_ATTRIBUTE_READ_ONLY)
    NAME(CKR_ATTRIBUTE_SENSITIVE)
    NAME(CKR_ATTRIBUTE_TYPE_INVALID)
    NAME(CKR_ATTRIBUTE_VALUE_INVALID)
    NAME(CKR_DATA_LEN_RANGE)
    NAME(CKR_DEVICE_ERROR)
    NAME(CKR_FUNCTION_NOT_SUPPORTED)
    NAME(CKR_KEY_HANDLE_INVALID)
    NAME(CKR_KEY_TYPE_INCONSISTENT)
    NAME(CKR_KEY_FUNCTION_NOT_PERMITTED)
    NAME(CKR_MECHANISM_INVALID)
    NAME(CKR_MECHANISM_PARAM_INVALID)
    NAME(CKR_OBJECT_HANDLE_INVALID)
    NAME(CKR_OPERATION_ACTIVE)
    NAME(CKR_OPERATION_NOT_INITIALIZED)
    NAME(CKR_PIN_INCORRECT)
    NAME(CKR_PIN_LOCKED)
    NAME(CKR_SESSION_HANDLE_INVALID)
    NAME(CKR_SESSION_READ_ONLY)
    NAME(CKR_TEMPLATE_INCOMPLETE)
    NAME(CKR_TEMPLATE_INCONSISTENT)
    NAME(CKR_TOKEN_NOT_PRESENT)
    NAME(CKR_USER_ALREADY_LOGGED_IN)
    NAME(CKR_USER_NOT_LOGGED_IN)
    NAME(CKR_USER_PIN_NOT_INITIALIZED)
    NAME(CKR_BUFFER_TOO_SMALL)
    NAME(CKR_CRYPTOKI_NOT_INITIALIZED)
    NAME(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    NAME(CKR_CURVE_NOT_SUPPORTED)
#undef NAME
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%lx", rv);
      return buf;
    }
  }
}

void check(CK_RV rv, const char* function) {
  if (rv != CKR_OK) {
    throw P11Error(function, rv);
  }
}

// ---- PKCS#11 ----

Module::Module(const std::string& path) : path_(path) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* e = dlerror();
    throw std::runtime_error("dlopen " + path + ": " + (e ? e : "?"));
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle_, "C_GetFunctionList"));
  if (!get) {
    throw std::runtime_error(path + " has no C_GetFunctionList");
  }
  check(get(&f_), "C_GetFunctionList");
}

Module::~Module() {
  // The module stays loaded: some (SoftHSMv2) change OpenSSL's global state at load time and do
  // not like being unloaded while OpenSSL is still in use in the process.
  (void)handle_;
}

void initialize(CK_FUNCTION_LIST* f) {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  check(f->C_Initialize(&args), "C_Initialize");
}

std::string padded_label(const std::string& label) {
  std::string s = label.substr(0, 32);
  s.resize(32, ' ');
  return s;
}

CK_SLOT_ID find_slot(CK_FUNCTION_LIST* f, const std::string& label) {
  CK_ULONG n = 0;
  check(f->C_GetSlotList(CK_TRUE, nullptr, &n), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  check(f->C_GetSlotList(CK_TRUE, slots.data(), &n), "C_GetSlotList");
  for (CK_ULONG i = 0; i < n; ++i) {
    CK_TOKEN_INFO info{};
    if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
        std::memcmp(info.label, padded_label(label).data(), 32) == 0) {
      return slots[i];
    }
  }
  throw std::runtime_error("no token labelled \"" + label + "\"");
}

std::string object_label(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-object-%07zu", i);
  return buf;
}

std::string object_id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "id-%07zu", i);
  return buf;
}

std::string public_label(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-public-%07zu", i);
  return buf;
}

std::string public_id(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "pid-%07zu", i);
  return buf;
}

P11Backend::P11Backend(std::string name, const std::string& module_path,
                       const std::string& token_label, const TestData& data, bool import_keys)
    : name_(std::move(name)), module_(module_path), data_(data) {
  initialize(f());
  slot_ = find_slot(f(), token_label);
  main_ = open_session();
  CK_RV rv =
      f()->C_Login(main_, CKU_USER, (CK_UTF8CHAR_PTR)data_.user_pin.data(), data_.user_pin.size());
  if (rv != CKR_USER_ALREADY_LOGGED_IN) {
    check(rv, "C_Login");
  }
  ecdsa_prehash_ = !has_mechanism(CKM_ECDSA_SHA256) && has_mechanism(CKM_ECDSA);
  if (!import_keys) {
    find_keys(true);
    return;
  }

  auto import_key = [&](Key& key, const std::string& what, const std::vector<Template>& choices) {
    for (const Template& t : choices) {
      try {
        key.handle = import(t.attrs());
        key.error.clear();
        return;
      } catch (const P11Error& e) {
        key.error = std::string("cannot import the ") + what + " key: " + e.what();
      }
    }
  };
  {
    Template t = private_token_object(CKO_PRIVATE_KEY, CKK_RSA, "bench-rsa");
    t.boolean(CKA_SIGN, true);
    const EVP_PKEY* k = data_.rsa.get();
    t.raw(CKA_MODULUS, bn_param(k, OSSL_PKEY_PARAM_RSA_N));
    t.raw(CKA_PUBLIC_EXPONENT, bn_param(k, OSSL_PKEY_PARAM_RSA_E));
    t.raw(CKA_PRIVATE_EXPONENT, bn_param(k, OSSL_PKEY_PARAM_RSA_D));
    t.raw(CKA_PRIME_1, bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR1));
    t.raw(CKA_PRIME_2, bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR2));
    t.raw(CKA_EXPONENT_1, bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT1));
    t.raw(CKA_EXPONENT_2, bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT2));
    t.raw(CKA_COEFFICIENT, bn_param(k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1));
    std::vector<Template> choices;
    choices.push_back(std::move(t));
    import_key(rsa_, "RSA-2048", choices);
  }
  {
    Template t = private_token_object(CKO_PRIVATE_KEY, CKK_EC, "bench-ec");
    t.boolean(CKA_SIGN, true).raw(CKA_EC_PARAMS, kP256Params);
    t.raw(CKA_VALUE, bn_param(data_.ec.get(), OSSL_PKEY_PARAM_PRIV_KEY, 32));
    std::vector<Template> choices;
    choices.push_back(std::move(t));
    import_key(ec_, "P-256", choices);
  }
  {
    Bytes raw(32);
    size_t len = raw.size();
    ossl(EVP_PKEY_get_raw_private_key(data_.ed.get(), raw.data(), &len), "Ed25519 private key");
    std::vector<Template> choices;
    for (const Bytes& params : {kEd25519Oid, kEd25519Name}) {
      Template t = private_token_object(CKO_PRIVATE_KEY, CKK_EC_EDWARDS, "bench-ed25519");
      t.boolean(CKA_SIGN, true).raw(CKA_EC_PARAMS, params).raw(CKA_VALUE, raw);
      choices.push_back(std::move(t));
    }
    import_key(ed_, "Ed25519", choices);
  }
  {
    Template t = private_token_object(CKO_SECRET_KEY, CKK_AES, "bench-aes");
    t.boolean(CKA_ENCRYPT, true).boolean(CKA_DECRYPT, true).raw(CKA_VALUE, data_.aes_key);
    std::vector<Template> choices;
    choices.push_back(std::move(t));
    import_key(aes_, "AES-256", choices);
  }
  {
    std::vector<Template> choices;
    for (CK_KEY_TYPE type : {CK_KEY_TYPE{CKK_GENERIC_SECRET}, CK_KEY_TYPE{CKK_SHA256_HMAC}}) {
      Template t = private_token_object(CKO_SECRET_KEY, type, "bench-hmac");
      t.boolean(CKA_SIGN, true).boolean(CKA_VERIFY, true).raw(CKA_VALUE, data_.hmac_key);
      choices.push_back(std::move(t));
    }
    import_key(hmac_, "HMAC", choices);
  }
}

P11Backend::~P11Backend() {
  f()->C_CloseSession(main_);
  f()->C_Finalize(nullptr);
}

bool P11Backend::has_mechanism(CK_MECHANISM_TYPE m) {
  CK_MECHANISM_INFO info{};
  return f()->C_GetMechanismInfo(slot_, m, &info) == CKR_OK;
}

CK_SESSION_HANDLE P11Backend::open_session() {
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  check(f()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
        "C_OpenSession");
  return s;
}

CK_OBJECT_HANDLE P11Backend::import(std::vector<CK_ATTRIBUTE> tmpl) {
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  check(f()->C_CreateObject(main_, tmpl.data(), tmpl.size(), &h), "C_CreateObject");
  return h;
}

Timing P11Backend::login() {
  check(f()->C_Logout(main_), "C_Logout");
  Timing s = time_both([&] {
    check(f()->C_Login(main_, CKU_USER, (CK_UTF8CHAR_PTR)data_.user_pin.data(),
                       data_.user_pin.size()),
          "C_Login");
  });
  // A module may give private objects new handles after a logout (SoftHSMv2 does).
  find_keys(false);
  return s;
}

void P11Backend::find_keys(bool all) {
  for (auto [key, label] : {std::pair{&rsa_, "bench-rsa"},
                            {&ec_, "bench-ec"},
                            {&ed_, "bench-ed25519"},
                            {&aes_, "bench-aes"},
                            {&hmac_, "bench-hmac"}}) {
    if (!all && key->handle == CK_INVALID_HANDLE) {
      continue;
    }
    std::string l = label;
    CK_ATTRIBUTE a{CKA_LABEL, l.data(), l.size()};
    CK_ULONG count = 0;
    check(f()->C_FindObjectsInit(main_, &a, 1), "C_FindObjectsInit");
    CK_RV rv = f()->C_FindObjects(main_, &key->handle, 1, &count);
    f()->C_FindObjectsFinal(main_);
    check(rv, "C_FindObjects");
    if (count != 1 && all) {
      key->handle = CK_INVALID_HANDLE;
      key->error = "no key labelled " + l + " in the token";
    } else if (count != 1) {
      throw std::runtime_error("key " + l + " not found after login");
    }
  }
}

Op P11Backend::make_op(Work w) {
  if (is_small_op(w)) {
    auto session = std::make_shared<SessionHolder>(f(), open_session());
    return p11_small_op(w, data_, f(), slot_, session, session->h, hmac_.handle);
  }
  const Key* key = nullptr;
  CK_MECHANISM_TYPE mech = 0;
  switch (w) {
    case Work::rsa2048_sign:
      key = &rsa_;
      mech = CKM_SHA256_RSA_PKCS;
      break;
    case Work::ecdsa_p256_sign:
      key = &ec_;
      mech = CKM_ECDSA_SHA256;
      break;
    case Work::ed25519_sign:
      key = &ed_;
      mech = CKM_EDDSA;
      break;
    case Work::aes256_gcm_1m:
      key = &aes_;
      mech = CKM_AES_GCM;
      break;
    case Work::aes256_cbc_pad_1m:
      key = &aes_;
      mech = CKM_AES_CBC_PAD;
      break;
    case Work::hmac_sha256_1k:
      key = &hmac_;
      mech = CKM_SHA256_HMAC;
      break;
    default:
      throw Unsupported("unknown work");
  }
  if (key->handle == CK_INVALID_HANDLE) {
    throw Unsupported(key->error);
  }
  auto session = std::make_shared<SessionHolder>(f(), open_session());
  auto out = std::make_shared<Bytes>();
  CK_FUNCTION_LIST* fl = f();
  CK_OBJECT_HANDLE k = key->handle;
  Op op{nullptr, out};
  if (w == Work::aes256_gcm_1m || w == Work::aes256_cbc_pad_1m) {
    const Bytes& in = data_.bulk;
    const Bytes& iv = w == Work::aes256_gcm_1m ? data_.gcm_iv : data_.cbc_iv;
    auto gcm = std::make_shared<CK_GCM_PARAMS>();
    gcm->pIv = const_cast<CK_BYTE_PTR>(iv.data());
    gcm->ulIvLen = iv.size();
    gcm->ulIvBits = iv.size() * 8;
    gcm->ulTagBits = 128;
    out->resize(kBulkSize + 16);
    op.run = [fl, session, k, mech, gcm, out, &in, &iv] {
      CK_MECHANISM m{mech, nullptr, 0};
      if (mech == CKM_AES_GCM) {
        m.pParameter = gcm.get();
        m.ulParameterLen = sizeof(CK_GCM_PARAMS);
      } else {
        m.pParameter = const_cast<CK_BYTE_PTR>(iv.data());
        m.ulParameterLen = iv.size();
      }
      check(fl->C_EncryptInit(session->h, &m, k), "C_EncryptInit");
      CK_ULONG len = out->size();
      check(fl->C_Encrypt(session->h, const_cast<CK_BYTE_PTR>(in.data()), in.size(), out->data(),
                          &len),
            "C_Encrypt");
      if (len != out->size()) {
        throw std::runtime_error("C_Encrypt: unexpected output length " + std::to_string(len));
      }
    };
    return op;
  }
  const Bytes& in = w == Work::hmac_sha256_1k ? data_.hmac_data : data_.message;
  if (w == Work::ecdsa_p256_sign && ecdsa_prehash_) {
    // The module lacks CKM_ECDSA_SHA256 (SoftHSMv2 2.6): the caller hashes, CKM_ECDSA signs; the
    // same work, the hash done outside the module.
    const EVP_MD* sha256 = fetched().sha256;
    op.run = [fl, session, k, out, sha256, &in] {
      unsigned char hash[32];
      unsigned int hash_len = 0;
      if (EVP_Digest(in.data(), in.size(), hash, &hash_len, sha256, nullptr) != 1) {
        throw std::runtime_error("EVP_Digest failed");
      }
      CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
      check(fl->C_SignInit(session->h, &m, k), "C_SignInit(CKM_ECDSA)");
      out->resize(512);
      CK_ULONG len = out->size();
      check(fl->C_Sign(session->h, hash, hash_len, out->data(), &len), "C_Sign");
      out->resize(len);
    };
    return op;
  }
  op.run = [fl, session, k, mech, out, &in] {
    CK_MECHANISM m{mech, nullptr, 0};
    check(fl->C_SignInit(session->h, &m, k), "C_SignInit");
    out->resize(512);
    CK_ULONG len = out->size();
    check(fl->C_Sign(session->h, const_cast<CK_BYTE_PTR>(in.data()), in.size(), out->data(), &len),
          "C_Sign");
    out->resize(len);
  };
  return op;
}

void P11Backend::create_objects(size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).boolean(CKA_TOKEN, true);
    t.boolean(CKA_PRIVATE, true).boolean(CKA_SENSITIVE, true);
    t.str(CKA_LABEL, object_label(i)).str(CKA_ID, object_id(i)).raw(CKA_VALUE, random_bytes(32));
    import(t.attrs());
  }
  objects_ = std::max(objects_, to);
}

void P11Backend::create_public_objects(size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).boolean(CKA_TOKEN, true);
    t.boolean(CKA_PRIVATE, false).boolean(CKA_SENSITIVE, true);
    t.str(CKA_LABEL, public_label(i)).str(CKA_ID, public_id(i)).raw(CKA_VALUE, random_bytes(32));
    import(t.attrs());
  }
  public_objects_ = std::max(public_objects_, to);
}

Op P11Backend::find_op(FindBy by, bool private_objects, size_t n) {
  auto session = std::make_shared<SessionHolder>(f(), open_session());
  auto out = std::make_shared<Bytes>();
  auto next = std::make_shared<size_t>(n / 3);
  CK_FUNCTION_LIST* fl = f();
  Op op{nullptr, out};
  op.run = [fl, session, next, n, by, private_objects] {
    // A different object each time (a stride coprime with n walks all of them).
    size_t i = *next;
    *next = (i + 7919) % n;
    std::string value = by == FindBy::label ? (private_objects ? object_label(i) : public_label(i))
                                            : (private_objects ? object_id(i) : public_id(i));
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE a[2] = {{by == FindBy::label ? CKA_LABEL : CKA_ID, value.data(), value.size()},
                         {CKA_CLASS, &cls, sizeof cls}};
    check(fl->C_FindObjectsInit(session->h, a, by == FindBy::class_id ? 2 : 1),
          "C_FindObjectsInit");
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    CK_RV rv = fl->C_FindObjects(session->h, found, 2, &count);
    fl->C_FindObjectsFinal(session->h);
    check(rv, "C_FindObjects");
    if (count != 1) {
      throw std::runtime_error("C_FindObjects: " + std::to_string(count) + " objects match " +
                               value);
    }
  };
  return op;
}

size_t P11Backend::count_by_id(const std::string& id) {
  std::string value = id;
  return count({CK_ATTRIBUTE{CKA_ID, value.data(), value.size()}});
}

size_t P11Backend::count_secret_keys() {
  Template t;
  t.ulong(CKA_CLASS, CKO_SECRET_KEY);
  return count(t.attrs());
}

size_t P11Backend::count(std::vector<CK_ATTRIBUTE> tmpl) {
  check(f()->C_FindObjectsInit(main_, tmpl.data(), tmpl.size()), "C_FindObjectsInit");
  size_t n = 0;
  CK_RV rv = CKR_OK;
  std::vector<CK_OBJECT_HANDLE> found(4096);
  for (;;) {
    CK_ULONG got = 0;
    rv = f()->C_FindObjects(main_, found.data(), found.size(), &got);
    if (rv != CKR_OK || got == 0) {
      break;
    }
    n += got;
  }
  f()->C_FindObjectsFinal(main_);
  check(rv, "C_FindObjects");
  return n;
}

}  // namespace bench
