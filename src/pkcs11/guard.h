// guard runs one entry point's body and turns every exception into the CK_RV PKCS#11 names for
// it, once, here: CkError carries its own code; a tampered store (IntegrityError) and an
// unreadable one (StoreError) are CKR_DEVICE_ERROR; bad_alloc is CKR_HOST_MEMORY; anything else
// CKR_GENERAL_ERROR. Every call and its result go to the debug log; its arguments are LogArgs,
// numbers and literals kept as they are and rendered only when the log is on (a call with the log
// off formats and allocates nothing for it). A call that found the token logged out by another
// process wipes the other sessions' private-key state before it returns.
#pragma once

#include <cstddef>
#include <new>
#include <string>

#include "pkcs11/log.h"
#include "token/ck_error.h"
#include "token/token.h"

namespace twinhsm::pkcs11 {

// end_private_operations_of calls Library::end_private_operations for the slot of token (when a
// call found it logged out by another process's restore or initialization). library.cc.
void end_private_operations_of(const token::Token& token) noexcept;

// LogArgs is a call's argument list for the debug log, unformatted: up to kMax pieces, each a
// handle or number (arg()) or a string literal (", key="), joined with +.
class LogArgs {
 public:
  static constexpr size_t kMax = 6;
  LogArgs() = default;
  LogArgs(const char* literal) { add(literal, 0); }  // NOLINT: "" converts, as a string did
  static LogArgs number(CK_ULONG v) {
    LogArgs a;
    a.add(nullptr, v);
    return a;
  }
  friend LogArgs operator+(LogArgs a, const LogArgs& b) {
    for (size_t i = 0; i < b.n_; ++i) {
      a.add(b.pieces_[i].literal, b.pieces_[i].number);
    }
    return a;
  }
  friend LogArgs operator+(LogArgs a, const char* literal) { return a + LogArgs(literal); }
  std::string str() const {
    std::string out;
    for (size_t i = 0; i < n_; ++i) {
      out +=
          pieces_[i].literal ? std::string(pieces_[i].literal) : std::to_string(pieces_[i].number);
    }
    return out;
  }

 private:
  struct Piece {
    const char* literal;  // nullptr: number
    CK_ULONG number;
  };
  void add(const char* literal, CK_ULONG number) {
    if (n_ < kMax) {
      pieces_[n_++] = Piece{literal, number};
    }
  }
  Piece pieces_[kMax];  // only the first n_ are set: no zeroing in every call
  size_t n_ = 0;
};

template <class Body>
CK_RV guard(const char* name, const LogArgs& details, Body&& body) noexcept {
  CK_RV rv;
  const token::Token* logged_out = nullptr;
  try {
    body();
    rv = CKR_OK;
  } catch (const token::LoggedOutByAnotherProcess& e) {
    rv = e.rv();
    logged_out = &e.token();
    log::message(std::string(name) + ": " + e.what());
  } catch (const token::CkError& e) {
    rv = e.rv();
    if (log::enabled() && rv != CKR_BUFFER_TOO_SMALL) {
      log::message(std::string(name) + ": " + e.what());
    }
  } catch (const IntegrityError& e) {
    rv = CKR_DEVICE_ERROR;
    log::message(std::string(name) + ": " + e.what());
  } catch (const StoreError& e) {
    rv = CKR_DEVICE_ERROR;
    log::message(std::string(name) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    rv = CKR_HOST_MEMORY;
  } catch (const std::exception& e) {
    rv = CKR_GENERAL_ERROR;
    log::message(std::string(name) + ": " + e.what());
  } catch (...) {
    rv = CKR_GENERAL_ERROR;
  }
  if (log::enabled()) {
    try {
      log::call(name, details.str(), rv);
    } catch (...) {  // the log never changes the call's result
    }
  }
  // After the body: the call's session lock is released, as end_private_operations needs.
  if (logged_out) {
    end_private_operations_of(*logged_out);
  }
  return rv;
}

// arg is a handle or number of the debug log's argument list (formatted only when logged).
inline LogArgs arg(CK_ULONG v) {
  return LogArgs::number(v);
}

// The argument checks every entry point makes.
inline void require_arg(bool ok) {
  if (!ok) {
    throw token::CkError(CKR_ARGUMENTS_BAD, "a required pointer argument is NULL");
  }
}

}  // namespace twinhsm::pkcs11
