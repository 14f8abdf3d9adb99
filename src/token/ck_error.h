// CkError carries the CK_RV that the PKCS#11 boundary returns for it, with a sentence for logs and
// for the command line. The token layer throws it for every outcome PKCS#11 names.
#pragma once

#include <string>

#include "common/error.h"
#include "common/pkcs11.h"

namespace twinhsm::token {

class CkError : public Error {
 public:
  CkError(CK_RV rv, const std::string& message) : Error(message), rv_(rv) {}
  CK_RV rv() const { return rv_; }

 private:
  CK_RV rv_;
};

// Throws CkError(rv, message) unless condition holds.
inline void require(bool condition, CK_RV rv, const char* message) {
  if (!condition) {
    throw CkError(rv, message);
  }
}

}  // namespace twinhsm::token
