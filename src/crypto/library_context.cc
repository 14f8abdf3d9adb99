// twinhsm's OpenSSL library context: made once, with every algorithm twinhsm uses fetched from
// it, and released by an exit handler (library_context.h says when and why).
#include "crypto/library_context.h"

#include <openssl/provider.h>

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>

#include "common/exit_handler.h"
#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace detail {

namespace {

// The algorithms fetched when the context is made, by the names the rest of src/crypto asks for.
constexpr std::array kDigests = {DigestAlg::sha1,     DigestAlg::sha224,   DigestAlg::sha256,
                                 DigestAlg::sha384,   DigestAlg::sha512,   DigestAlg::sha3_224,
                                 DigestAlg::sha3_256, DigestAlg::sha3_384, DigestAlg::sha3_512,
                                 DigestAlg::md5};
constexpr std::array kCipherNames = {
    "AES-128-GCM", "AES-192-GCM", "AES-256-GCM", "AES-128-ECB", "AES-192-ECB", "AES-256-ECB",
    "AES-128-CBC", "AES-192-CBC", "AES-256-CBC", "AES-128-CTR", "AES-192-CTR", "AES-256-CTR",
    "AES-128-WRAP", "AES-192-WRAP", "AES-256-WRAP", "AES-128-WRAP-PAD", "AES-192-WRAP-PAD",
    "AES-256-WRAP-PAD", "AES-128-CCM", "AES-192-CCM", "AES-256-CCM", "AES-128-CBC-CTS",
    "AES-192-CBC-CTS", "AES-256-CBC-CTS", "AES-128-XTS", "AES-256-XTS", "ChaCha20-Poly1305",
    "DES-EDE-ECB", "DES-EDE-CBC", "DES-EDE3-ECB", "DES-EDE3-CBC",
    // Single DES: from the legacy provider (make_library_context).
    "DES-ECB", "DES-CBC"};
constexpr std::array kMacNames = {"HMAC", "CMAC"};
constexpr std::array kKdfNames = {OSSL_KDF_NAME_KBKDF, OSSL_KDF_NAME_PBKDF2, OSSL_KDF_NAME_HKDF,
                                  OSSL_KDF_NAME_X963KDF};

// What twinhsm asks of OpenSSL's own initialization: its error strings (for CryptoError's
// reasons), nothing that would load a configuration file.
constexpr uint64_t kInitOptions = OPENSSL_INIT_LOAD_CRYPTO_STRINGS;

using LibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, Deleter<&OSSL_LIB_CTX_free>>;
using ProviderPtr = std::unique_ptr<OSSL_PROVIDER, Deleter<&OSSL_PROVIDER_unload>>;

// LibraryContext owns the context, its provider and what was fetched from it; never changed
// after it is made, so any thread reads it without a lock. Members are freed in reverse order:
// the algorithms, then the provider, then the context.
struct LibraryContext {
  LibCtxPtr ctx;
  ProviderPtr default_provider;
  ProviderPtr legacy_provider;
  std::array<MdPtr, kDigests.size()> mds;
  std::array<CipherPtr, kCipherNames.size()> ciphers;
  std::array<MacPtr, kMacNames.size()> macs;
  std::array<KdfPtr, kKdfNames.size()> kdfs;
};

// fetch_all fills owned[i] with Fetch(ctx, names[i]).
template <class Owned, size_t N, class Fetch>
void fetch_all(std::array<Owned, N>& owned, const std::array<const char*, N>& names, Fetch fetch) {
  for (size_t i = 0; i < N; ++i) {
    owned[i].reset(not_null(fetch(names[i]), "OpenSSL algorithm unavailable"));
  }
}

// make_library_context is the one place where twinhsm's library context is made, and says what
// is in it. Its providers are loaded here and nowhere else.
std::unique_ptr<LibraryContext> make_library_context() {
  const char* what = "cannot set up OpenSSL";
  // OpenSSL's own initialization first: it registers OPENSSL_cleanup with atexit (unless the
  // application asked it not to) before our exit handler is registered, so ours runs first. It
  // loads no configuration file (that is OPENSSL_INIT_LOAD_CONFIG, which this does not ask for).
  check(OPENSSL_init_crypto(kInitOptions, nullptr), what);
  auto c = std::make_unique<LibraryContext>();
  // A new context reads no configuration file: the application's (OPENSSL_CONF, openssl.cnf)
  // configures OpenSSL's default context only, and no default properties are set here.
  c->ctx.reset(not_null(OSSL_LIB_CTX_new(), what));
  // Loading a provider explicitly also turns off the fallback loading of others.
  c->default_provider.reset(not_null(OSSL_PROVIDER_load(c->ctx.get(), "default"), what));
  // The legacy provider, for single DES only (CKM_DES_*: devices whose algorithm policy is
  // legacy). Loaded into this context alone: the application's contexts do not see it. Its
  // algorithms are asked for by names the default provider does not have, so nothing else is
  // ever fetched from it.
  c->legacy_provider.reset(not_null(OSSL_PROVIDER_load(c->ctx.get(), "legacy"), what));
  OSSL_LIB_CTX* ctx = c->ctx.get();
  for (size_t i = 0; i < kDigests.size(); ++i) {
    c->mds[i].reset(not_null(EVP_MD_fetch(ctx, digest_name(kDigests[i]), nullptr), what));
  }
  fetch_all(c->ciphers, kCipherNames,
            [ctx](const char* name) { return EVP_CIPHER_fetch(ctx, name, nullptr); });
  fetch_all(c->macs, kMacNames,
            [ctx](const char* name) { return EVP_MAC_fetch(ctx, name, nullptr); });
  fetch_all(c->kdfs, kKdfNames,
            [ctx](const char* name) { return EVP_KDF_fetch(ctx, name, nullptr); });
  return c;
}

// The context once made; null before, and again once released (g_released then set). Plain
// pointers and a std::mutex: nothing here has a destructor that could run at exit.
std::atomic<LibraryContext*> g_context{nullptr};
std::atomic<bool> g_released{false};
std::mutex g_make_mutex;

// openssl_stopped is true once OPENSSL_cleanup has run: OPENSSL_init_crypto then returns 0 and
// does nothing else (its error report finds no error state: that is gone too), as OpenSSL
// promises for calls after clean-up. Before, the options asked for are the ones the context's
// making did, so it returns 1 after one atomic load.
bool openssl_stopped() noexcept {
  return OPENSSL_init_crypto(kInitOptions, nullptr) != 1;
}

// release_at_exit frees the context, unless OpenSSL is gone already (an application's explicit
// OPENSSL_cleanup): then it is abandoned, still reachable from g_context (leak checkers see no
// leak), and every use throws. Registered with at_exit_or_unload: it also runs when the module is
// unloaded.
void release_at_exit() noexcept {
  g_released.store(true, std::memory_order_release);
  if (!openssl_stopped()) {
    delete g_context.exchange(nullptr, std::memory_order_acq_rel);
  }
}

[[noreturn]] void throw_unavailable() {
  throw CryptoError("OpenSSL is no longer available to twinhsm (the process is exiting)");
}

const LibraryContext& context() {
  LibraryContext* c = g_context.load(std::memory_order_acquire);
  if (c != nullptr) {
    if (openssl_stopped()) {  // also when released: see release_at_exit
      throw_unavailable();
    }
    return *c;
  }
  std::lock_guard lock(g_make_mutex);
  if (g_released.load(std::memory_order_acquire) || openssl_stopped()) {
    throw_unavailable();
  }
  c = g_context.load(std::memory_order_acquire);
  if (c == nullptr) {
    auto made = make_library_context();
    if (!at_exit_or_unload(release_at_exit)) {
      throw CryptoError("cannot register twinhsm's OpenSSL clean-up");
    }
    c = made.release();
    g_context.store(c, std::memory_order_release);
  }
  return *c;
}

// find returns what was fetched under name, or throws CryptoError for a name not fetched here.
template <class Owned, size_t N>
auto find(const std::array<const char*, N>& names, const std::array<Owned, N>& owned,
          const char* name) -> typename Owned::pointer {
  for (size_t i = 0; i < N; ++i) {
    if (std::strcmp(names[i], name) == 0) {
      return owned[i].get();
    }
  }
  throw CryptoError(std::string("no such algorithm here: ") + name);
}

}  // namespace

OSSL_LIB_CTX* libctx() {
  return context().ctx.get();
}

const EVP_MD* fetched_md(DigestAlg alg) {
  return context().mds.at(static_cast<size_t>(alg)).get();
}

const EVP_CIPHER* fetched_cipher(const char* name) {
  return find(kCipherNames, context().ciphers, name);
}

EVP_MAC* fetched_mac(const char* name) {
  return find(kMacNames, context().macs, name);
}

EVP_KDF* fetched_kdf(const char* name) {
  return find(kKdfNames, context().kdfs, name);
}

}  // namespace detail

void prepare_library_context() {
  (void)detail::libctx();
}

bool crypto_available() noexcept {
  return !detail::g_released.load(std::memory_order_acquire) && !detail::openssl_stopped();
}

}  // namespace twinhsm::crypto
