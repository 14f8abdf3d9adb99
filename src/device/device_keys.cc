#include "device/device_keys.h"

#include "crypto/kdf.h"
#include "device/firmware_key.h"

namespace twinhsm::device {

crypto::SecureBytes device_root(std::span<const uint8_t> dbk) {
  crypto::SecureBytes root = firmware_key();
  root.insert(root.end(), dbk.begin(), dbk.end());
  return root;
}

DeviceKeys derive_device_keys(std::span<const uint8_t> dbk) {
  crypto::SecureBytes root = device_root(dbk);
  auto derive = [&](std::string_view label) {
    return crypto::kbkdf_counter_hmac_sha256(root, label, ByteView(), 32);
  };
  DeviceKeys keys;
  keys.row_key = derive("twinhsm row authentication key v1");
  keys.token.login_secret = derive("twinhsm login secret v1");
  keys.token.object_key = derive("twinhsm public object key v1");
  keys.token.index_key = derive("twinhsm public index key v1");
  return keys;
}

}  // namespace twinhsm::device
