// The exception hierarchy used inside twinhsm. Exceptions never cross the C boundary: the PKCS#11
// layer translates them into CK_RV values in one place (pkcs11/guard.h), the CLI into one line on
// stderr and a non-zero exit.
#pragma once

#include <stdexcept>
#include <string>

namespace twinhsm {

// Error is the base of every twinhsm exception. what() is a sentence a user can act on; it never
// holds a key, a PIN or any other secret.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// IntegrityError means authenticated data failed its check: a tampered or truncated row or file,
// a wrong key, a wrong password (key-wrap integrity check).
class IntegrityError : public Error {
 public:
  using Error::Error;
};

// CryptoError means an OpenSSL call failed for another reason; the message carries OpenSSL's.
class CryptoError : public Error {
 public:
  using Error::Error;
};

// StoreError means the SQLite store could not be read or written (I/O, full disk, locked).
class StoreError : public Error {
 public:
  using Error::Error;
};

// UsageError means the caller asked for something invalid (bad argument, wrong state).
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace twinhsm
