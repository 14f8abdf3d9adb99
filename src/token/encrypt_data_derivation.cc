// Derivation by encryption (derivation_parts.h): CKM_AES_ECB_ENCRYPT_DATA and _CBC_ENCRYPT_DATA,
// the same for DES and Triple DES: the new key's value is the data encrypted under the base key
// (ECB or CBC, no padding: the data is whole blocks), its leftmost bytes. The key policy refuses
// a base key that wraps or unwraps keys (key_policy.h: check_derivation_base).
#include "crypto/cipher.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/derivation_parts.h"

namespace twinhsm::token {

SecureBytes encrypt_data_value(const Mechanism& m, const Object& base,
                               const DerivedRequest& request) {
  crypto::BlockCipher alg = crypto::BlockCipher::aes;
  switch (m.type) {
    case CKM_DES_ECB_ENCRYPT_DATA:
    case CKM_DES_CBC_ENCRYPT_DATA:
      alg = crypto::BlockCipher::des;
      break;
    case CKM_DES3_ECB_ENCRYPT_DATA:
    case CKM_DES3_CBC_ENCRYPT_DATA:
      alg = crypto::BlockCipher::des3;
      break;
    default:
      break;
  }
  const SecureBytes& key = block_cipher_key(base.attrs, alg);
  bool cbc = m.type == CKM_AES_CBC_ENCRYPT_DATA || m.type == CKM_DES_CBC_ENCRYPT_DATA ||
             m.type == CKM_DES3_CBC_ENCRYPT_DATA;
  Bytes iv;
  const Bytes* data = nullptr;
  if (cbc) {
    const auto* p = std::get_if<EncryptDataParams>(&m.params);
    require(p != nullptr && p->iv.size() == crypto::block_size(alg), CKR_MECHANISM_PARAM_INVALID,
            "CBC derivation needs CK_*_CBC_ENCRYPT_DATA_PARAMS with a one-block IV");
    iv = p->iv;
    data = &p->data;
  } else {
    const auto* p = std::get_if<DataParams>(&m.params);
    require(p != nullptr, CKR_MECHANISM_PARAM_INVALID,
            "ECB derivation needs CK_KEY_DERIVATION_STRING_DATA");
    data = &p->data;
  }
  require(!data->empty() && data->size() % crypto::block_size(alg) == 0,
          CKR_MECHANISM_PARAM_INVALID, "the data to encrypt must be whole blocks");
  crypto::SymmetricCipher cipher(alg, cbc ? crypto::CipherMode::cbc : crypto::CipherMode::ecb, key,
                                 iv, true, false);
  SecureBytes out = cipher.update(*data);
  SecureBytes last = cipher.finish();
  out.insert(out.end(), last.begin(), last.end());
  out.resize(length_from(request, out.size()));
  return out;
}

}  // namespace twinhsm::token
