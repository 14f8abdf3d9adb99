// guard runs one entry point's body and turns every exception into the CK_RV PKCS#11 names for
// it, once, here: CkError carries its own code; a tampered store (IntegrityError) and an
// unreadable one (StoreError) are CKR_DEVICE_ERROR; bad_alloc is CKR_HOST_MEMORY; anything else
// CKR_GENERAL_ERROR. Every call and its result go to the debug log. A call that found the token
// logged out by another process wipes the other sessions' private-key state before it returns.
#pragma once

#include <new>
#include <string>

#include "pkcs11/log.h"
#include "token/ck_error.h"
#include "token/token.h"

namespace twinhsm::pkcs11 {

// end_private_operations_of calls Library::end_private_operations for the slot of token (when a
// call found it logged out by another process's restore or initialization). library.cc.
void end_private_operations_of(const token::Token& token) noexcept;

template <class Body>
CK_RV guard(const char* name, const std::string& details, Body&& body) noexcept {
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
  log::call(name, details, rv);
  // After the body: the call's session lock is released, as end_private_operations needs.
  if (logged_out) {
    end_private_operations_of(*logged_out);
  }
  return rv;
}

// arg renders a handle or number for the debug log's argument list.
inline std::string arg(CK_ULONG v) {
  return std::to_string(v);
}

// The argument checks every entry point makes.
inline void require_arg(bool ok) {
  if (!ok) {
    throw token::CkError(CKR_ARGUMENTS_BAD, "a required pointer argument is NULL");
  }
}

}  // namespace twinhsm::pkcs11
