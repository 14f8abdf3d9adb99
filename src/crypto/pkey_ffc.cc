// Finite-field keys (pkey.h), for devices whose algorithm policy is legacy: DSA (FIPS 186) and
// PKCS#3 Diffie-Hellman. Domain parameters, keys on them, import and export.
#include <string>

#include "crypto/pkey.h"
#include "crypto/pkey_impl.h"

namespace twinhsm::crypto {

using namespace detail;

namespace {

const char* type_name(PKey::Type type) {
  if (type != PKey::Type::dsa && type != PKey::Type::dh) {
    throw UsageError("finite-field keys are DSA or DH keys");
  }
  return type == PKey::Type::dsa ? "DSA" : "DH";
}

// push_params adds p, q (when given) and g to bld.
void push_params(OSSL_PARAM_BLD* bld, const FfcParams& params, BnPtr (&bns)[3], const char* what) {
  bns[0] = bn_from(params.p, what);
  bns[2] = bn_from(params.g, what);
  check(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, bns[0].get()), what);
  if (!params.q.empty()) {
    bns[1] = bn_from(params.q, what);
    check(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, bns[1].get()), what);
  }
  check(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, bns[2].get()), what);
}

PkeyPtr params_key(const char* type, const FfcParams& params, const char* what) {
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), what));
  BnPtr bns[3];
  push_params(bld.get(), params, bns, what);
  auto built = to_params(bld.get(), what);
  return from_data(type, EVP_PKEY_KEY_PARAMETERS, built.get(), what);
}

FfcParams params_of(EVP_PKEY* pkey, const char* what) {
  FfcParams out;
  out.p = bn_bytes(get_bn(pkey, OSSL_PKEY_PARAM_FFC_P, what).get());
  out.g = bn_bytes(get_bn(pkey, OSSL_PKEY_PARAM_FFC_G, what).get());
  BIGNUM* q = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_FFC_Q, &q) == 1) {
    BnPtr owned(q);
    out.q = bn_bytes(q);
  }
  ERR_clear_error();  // PKCS#3 DH keys have no q
  return out;
}

PKey generate_on(const char* type, const FfcParams& params, const OSSL_PARAM* extra,
                 const char* what) {
  PkeyPtr domain = params_key(type, params, what);
  PkeyCtxPtr ctx(not_null(EVP_PKEY_CTX_new_from_pkey(libctx(), domain.get(), nullptr), what));
  check(EVP_PKEY_keygen_init(ctx.get()), what);
  if (extra != nullptr) {
    check(EVP_PKEY_CTX_set_params(ctx.get(), extra), what);
  }
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_generate(ctx.get(), &raw), what);
  return PKey(make_impl(PkeyPtr(raw), true));
}

FfcParams generate_params(const char* type, const OSSL_PARAM* settings, const char* what) {
  PkeyCtxPtr ctx = provider_ctx(type, what);
  check(EVP_PKEY_paramgen_init(ctx.get()), what);
  check(EVP_PKEY_CTX_set_params(ctx.get(), settings), what);
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_paramgen(ctx.get(), &raw), what);
  PkeyPtr domain(raw);
  return params_of(domain.get(), what);
}

}  // namespace

FfcParams PKey::generate_dsa_params(unsigned p_bits, unsigned q_bits) {
  size_t p = p_bits, q = q_bits;
  OSSL_PARAM settings[] = {OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_FFC_PBITS, &p),
                           OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_FFC_QBITS, &q),
                           OSSL_PARAM_construct_end()};
  return generate_params("DSA", settings, "DSA parameter generation failed");
}

FfcParams PKey::generate_dh_params(unsigned p_bits) {
  size_t p = p_bits;
  int generator = 2;
  OSSL_PARAM settings[] = {OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_FFC_PBITS, &p),
                           utf8_param(OSSL_PKEY_PARAM_FFC_TYPE, "generator"),
                           OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_DH_GENERATOR, &generator),
                           OSSL_PARAM_construct_end()};
  return generate_params("DH", settings, "DH parameter generation failed");
}

PKey PKey::generate_dsa(const FfcParams& params) {
  return generate_on("DSA", params, nullptr, "DSA key generation failed");
}

PKey PKey::generate_dh(const FfcParams& params, unsigned private_bits) {
  int bits = static_cast<int>(private_bits);
  OSSL_PARAM extra[] = {OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_DH_PRIV_LEN, &bits),
                        OSSL_PARAM_construct_end()};
  return generate_on("DH", params, private_bits ? extra : nullptr, "DH key generation failed");
}

PKey PKey::ffc_public(Type type, const FfcParams& params, ByteView y) {
  const char* name = type_name(type);
  std::string what = std::string("invalid ") + name + " public key";
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), what.c_str()));
  BnPtr bns[3];
  push_params(bld.get(), params, bns, what.c_str());
  auto pub = bn_from(y, what.c_str());
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.get()), what.c_str());
  auto built = to_params(bld.get(), what.c_str());
  auto pkey = from_data(name, EVP_PKEY_PUBLIC_KEY, built.get(), what.c_str());
  validate(pkey.get(), false, what.c_str());
  return PKey(make_impl(std::move(pkey), false));
}

PKey PKey::ffc_private(Type type, const FfcParams& params, std::span<const uint8_t> x) {
  const char* name = type_name(type);
  std::string what = std::string("invalid ") + name + " private key";
  const char* w = what.c_str();
  BnPtr bns[3];
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), w));
  push_params(bld.get(), params, bns, w);
  auto priv = secret_bn_from(x, w);
  if (BN_is_zero(priv.get()) || BN_cmp(priv.get(), bns[0].get()) >= 0) {
    throw CryptoError(what + ": the private value is out of range");
  }
  // PKCS#11 does not store the public value y = g^x mod p with the private key: computed here.
  BnCtxPtr bn_ctx(not_null(BN_CTX_secure_new_ex(libctx()), w));
  BnPtr pub(not_null(BN_new(), w));
  BN_set_flags(priv.get(), BN_FLG_CONSTTIME);
  check(BN_mod_exp_mont_consttime(pub.get(), bns[2].get(), priv.get(), bns[0].get(), bn_ctx.get(),
                                  nullptr),
        w);
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.get()), w);
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()), w);
  auto built = to_params(bld.get(), w);
  auto pkey = from_data(name, EVP_PKEY_KEYPAIR, built.get(), w);
  // The public half is checked (1 < y < p - 1, and y^q = 1 when q is known); the pair agrees by
  // construction. OpenSSL's full check would also test p for primality at every import.
  validate(pkey.get(), false, w);
  return PKey(make_impl(std::move(pkey), true));
}

FfcParams PKey::ffc_params() const {
  const char* what = "cannot export domain parameters";
  if (impl_->type != Type::dsa && impl_->type != Type::dh) {
    throw CryptoError(std::string(what) + ": the key is not a DSA or DH key");
  }
  return params_of(impl_->pkey.get(), what);
}

Bytes PKey::ffc_public_value() const {
  const char* what = "cannot export the public value";
  ffc_params();  // the type check
  return bn_bytes(get_bn(impl_->pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, what).get());
}

SecureBytes PKey::ffc_private_value() const {
  const char* what = "cannot export the private value";
  require_private(*impl_, what);
  ffc_params();
  return secret_bn_bytes(impl_->pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, what);
}

bool PKey::ffc_in_subgroup(ByteView y) const {
  const char* what = "cannot check a public value against the group";
  FfcParams params = ffc_params();
  // q, once per key: the primality test of (p-1)/2 costs tens of milliseconds at 2048 bits.
  std::call_once(impl_->subgroup_once, [&] {
    if (!params.q.empty()) {
      impl_->subgroup_order = params.q;
      return;
    }
    BnCtxPtr ctx(not_null(BN_CTX_new_ex(libctx()), what));
    BnPtr q = bn_from(params.p, what);
    check(BN_rshift1(q.get(), q.get()), what);  // (p-1)/2 of an odd p
    int prime = BN_check_prime(q.get(), ctx.get(), nullptr);
    ERR_clear_error();
    if (prime == 1) {
      impl_->subgroup_order = bn_bytes(q.get());
    }
  });
  if (impl_->subgroup_order.empty()) {
    return false;  // not a safe prime: the group's prime-order subgroup is unknown
  }
  BnCtxPtr ctx(not_null(BN_CTX_new_ex(libctx()), what));
  BnPtr p = bn_from(params.p, what);
  BnPtr q = bn_from(impl_->subgroup_order, what);
  BnPtr value = bn_from(y, what);
  BnPtr p_minus_1(not_null(BN_dup(p.get()), what));
  check(BN_sub_word(p_minus_1.get(), 1), what);
  if (BN_cmp(value.get(), BN_value_one()) <= 0 || BN_cmp(value.get(), p_minus_1.get()) >= 0) {
    return false;
  }
  BnPtr power(not_null(BN_new(), what));
  check(BN_mod_exp(power.get(), value.get(), q.get(), p.get(), ctx.get()), what);
  return BN_is_one(power.get());
}

}  // namespace twinhsm::crypto
