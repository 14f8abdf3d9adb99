// The small operations of issue 16's "per-call overhead" target, where the cost of a call is
// mostly what surrounds the work: SHA-256 of 64 B (C_DigestInit + C_Digest), C_GetAttributeValue
// of CKA_LABEL, C_OpenSession + C_CloseSession. Kept apart from bench_backends.cc, which
// dispatches to them.
#pragma once

#include "bench_backends.h"

namespace bench {

// is_small_op: w is one of the works below.
bool is_small_op(Work w);

// openssl_small_op: the raw OpenSSL counterpart (SHA-256: EVP_DigestInit_ex2 + EVP_DigestUpdate +
// EVP_DigestFinal_ex on a reused EVP_MD_CTX); throws Unsupported for the works that have none.
Op openssl_small_op(Work w, const TestData& data);

// p11_small_op: the work through a PKCS#11 module. session is the op's own session (closed when
// the op goes, by holder); labelled is a token object with a CKA_LABEL the session can read.
Op p11_small_op(Work w, const TestData& data, CK_FUNCTION_LIST* f, CK_SLOT_ID slot,
                std::shared_ptr<void> holder, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE labelled);

}  // namespace bench
