// twinhsm's own OpenSSL library context, as the layers above see it (no OpenSSL types here).
//
// Every primitive in src/crypto runs in one private OSSL_LIB_CTX with OpenSSL's default provider
// loaded explicitly and no configuration file: the providers, properties and configuration of the
// process that loaded twinhsm (an application with the pkcs11-provider as its default, say) do
// not reach it. library_context.cc makes it; openssl_util.h gives src/crypto the context itself.
//
// Lifetime: the context is made on first use and released by an exit handler that runs before
// OpenSSL's own clean-up (OPENSSL_cleanup, registered with atexit by OpenSSL's initialization,
// which prepare_library_context forces first), or when the module that holds it is unloaded.
// After that every primitive throws CryptoError, and crypto_available() is false. It is also false
// once OpenSSL has been cleaned up, by its exit handler or by an application's explicit
// OPENSSL_cleanup(): nothing may call OpenSSL then, not even to free an object.
#pragma once

namespace twinhsm::crypto {

// prepare_library_context makes the context now if it does not exist yet (throws CryptoError when
// OpenSSL cannot). A caller that registers an exit handler of its own which still uses crypto
// objects (the PKCS#11 module's) calls this first: handlers run in reverse order of registration,
// so its handler then runs before the context is released and before OPENSSL_cleanup.
void prepare_library_context();

// crypto_available is false once the context has been released or OpenSSL has been cleaned up:
// OpenSSL objects must then be abandoned, not freed. Cheap (no lock): may be asked on every call.
bool crypto_available() noexcept;

}  // namespace twinhsm::crypto
