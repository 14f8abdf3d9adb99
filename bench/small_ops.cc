#include "small_ops.h"

#include <openssl/evp.h>

namespace bench {

bool is_small_op(Work w) {
  return w == Work::sha256_64 || w == Work::get_label || w == Work::open_close;
}

Op openssl_small_op(Work w, const TestData& data) {
  if (w != Work::sha256_64) {
    throw Unsupported("no counterpart in raw OpenSSL");
  }
  auto out = std::make_shared<Bytes>(32);
  std::shared_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::shared_ptr<EVP_MD> md(EVP_MD_fetch(nullptr, "SHA256", nullptr), EVP_MD_free);
  const Bytes& in = data.message;
  Op op{nullptr, out};
  op.run = [ctx, md, out, &in] {
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx.get(), md.get(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), in.data(), in.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), out->data(), &len) != 1 || len != 32) {
      throw std::runtime_error("OpenSSL: SHA-256 failed");
    }
  };
  return op;
}

Op p11_small_op(Work w, const TestData& data, CK_FUNCTION_LIST* f, CK_SLOT_ID slot,
                std::shared_ptr<void> holder, CK_SESSION_HANDLE session,
                CK_OBJECT_HANDLE labelled) {
  auto out = std::make_shared<Bytes>();
  Op op{nullptr, out};
  switch (w) {
    case Work::sha256_64: {
      out->resize(32);
      const Bytes& in = data.message;
      op.run = [f, holder, session, out, &in] {
        CK_MECHANISM m{CKM_SHA256, nullptr, 0};
        check(f->C_DigestInit(session, &m), "C_DigestInit");
        CK_ULONG len = out->size();
        check(
            f->C_Digest(session, const_cast<CK_BYTE_PTR>(in.data()), in.size(), out->data(), &len),
            "C_Digest");
        if (len != 32) {
          throw std::runtime_error("C_Digest: unexpected output length");
        }
      };
      return op;
    }
    case Work::get_label: {
      out->resize(64);
      op.run = [f, holder, session, labelled, out] {
        CK_ATTRIBUTE a{CKA_LABEL, out->data(), out->size()};
        check(f->C_GetAttributeValue(session, labelled, &a, 1), "C_GetAttributeValue");
        if (a.ulValueLen == 0 || a.ulValueLen > 64) {
          throw std::runtime_error("C_GetAttributeValue: unexpected label length");
        }
      };
      return op;
    }
    case Work::open_close:
      // The op's own session stays open meanwhile: the one opened here is never the last.
      op.run = [f, holder, slot] {
        CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
        check(f->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s), "C_OpenSession");
        check(f->C_CloseSession(s), "C_CloseSession");
      };
      return op;
    default:
      throw Unsupported("not a small operation");
  }
}

}  // namespace bench
