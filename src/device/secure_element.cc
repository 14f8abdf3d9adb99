#include "device/secure_element.h"

#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "device/file_secure_element.h"
#include "device/secure_element_file.h"
#include "device/tpm_secure_element.h"

namespace twinhsm::device {

std::unique_ptr<SecureElement> SecureElement::open(const std::filesystem::path& dir) {
  SecureElementFile file = SecureElementFile::read(dir);
  if (file.header() == FileSecureElement::kHeader) {
    return std::make_unique<FileSecureElement>(FileSecureElement::from_file(file));
  }
  if (file.header() == TpmSecureElement::kHeader) {
    return std::make_unique<TpmSecureElement>(TpmSecureElement::from_file(file));
  }
  throw IntegrityError("the secure element file in " + dir.string() +
                       " is of an unknown kind (made by a newer twinhsm?)");
}

crypto::SecureBytes SecureElement::derive(std::string_view label, ByteView context,
                                          size_t length) const {
  auto keys = derive({Derivation{label, Bytes(context.begin(), context.end()), length}});
  return std::move(keys.front());
}

crypto::SecureBytes derive_dbk(std::span<const uint8_t> master_key,
                               const std::string& diversifier) {
  return crypto::kbkdf_counter_hmac_sha256(master_key, "twinhsm diversified backup key",
                                           as_bytes(diversifier), 32);
}

std::string dbk_fingerprint(std::span<const uint8_t> dbk) {
  crypto::SecureBytes input = crypto::secure_copy(std::string_view("twinhsm dbk fingerprint v1"));
  input.insert(input.end(), dbk.begin(), dbk.end());
  Bytes d = crypto::digest(crypto::DigestAlg::sha256, input);
  return to_hex(ByteView(d).first(8));
}

}  // namespace twinhsm::device
