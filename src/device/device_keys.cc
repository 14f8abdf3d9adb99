#include "device/device_keys.h"

#include "device/firmware_key.h"

namespace twinhsm::device {

crypto::SecureBytes device_root(std::span<const uint8_t> dbk) {
  crypto::SecureBytes root = firmware_key();
  root.insert(root.end(), dbk.begin(), dbk.end());
  return root;
}

DeviceKeys derive_device_keys(const SecureElement& se) {
  auto keys = se.derive({{"twinhsm row authentication key v1", {}, 32},
                         {"twinhsm login secret v1", {}, 32},
                         {"twinhsm public object key v1", {}, 32},
                         {"twinhsm public index key v1", {}, 32}});
  DeviceKeys out;
  out.row_key = std::move(keys[0]);
  out.token.login_secret = std::move(keys[1]);
  out.token.object_key = std::move(keys[2]);
  out.token.index_key = std::move(keys[3]);
  return out;
}

}  // namespace twinhsm::device
