#include "device/file_secure_element.h"

#include "crypto/kdf.h"
#include "device/device_keys.h"

namespace twinhsm::device {

FileSecureElement::FileSecureElement(std::string serial_number, std::string pair,
                                     bool insecure_auto_button, crypto::SecureBytes dbk)
    : dbk_(std::move(dbk)) {
  serial = std::move(serial_number);
  diversifier = std::move(pair);
  insecure_auto_button_allowed = insecure_auto_button;
}

FileSecureElement FileSecureElement::from_file(const SecureElementFile& file) {
  std::string hex = file.require("dbk");
  Bytes dbk = from_hex(hex);
  crypto::cleanse(hex.data(), hex.size());
  FileSecureElement se(file.require("serial"), file.require("diversifier"),
                       file.get("insecure_auto_button") == "1", crypto::secure_copy(dbk));
  crypto::cleanse(dbk.data(), dbk.size());
  if (se.dbk_.size() != 32) {
    throw IntegrityError("the secure element file is incomplete (its DBK is not 32 bytes)");
  }
  return se;
}

std::vector<crypto::SecureBytes> FileSecureElement::derive(
    const std::vector<Derivation>& requests) const {
  crypto::SecureBytes root = device_root(dbk_);
  std::vector<crypto::SecureBytes> keys;
  keys.reserve(requests.size());
  for (const Derivation& d : requests) {
    keys.push_back(crypto::kbkdf_counter_hmac_sha256(root, d.label, d.context, d.length));
  }
  return keys;
}

void FileSecureElement::write(const std::filesystem::path& dir) const {
  SecureElementFile file(kHeader);
  file.add("serial", serial);
  file.add("diversifier", diversifier);
  file.add("dbk", to_hex(dbk_));
  file.add("insecure_auto_button", insecure_auto_button_allowed ? "1" : "0");
  file.write(dir);
}

}  // namespace twinhsm::device
