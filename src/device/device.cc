#include "device/device.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>

#include "common/error.h"
#include "crypto/random.h"
#include "device/device_keys.h"
#include "device/file_secure_element.h"
#include "device/settings.h"
#include "device/tpm_secure_element.h"
#include "fs/durable.h"
#include "fs/owned_file.h"
#include "token/algorithm_policy.h"
#include "token/settings.h"

namespace twinhsm::device {

std::unique_ptr<Device> Device::open(const std::filesystem::path& dir, OpenFor purpose) {
  std::unique_ptr<Device> d(new Device());
  d->dir_ = dir;
  d->se_ = SecureElement::open(dir);
  DeviceKeys keys = derive_device_keys(*d->se_);
  auto db = dir / kStoreFile;
  if (!std::filesystem::exists(db)) {
    throw UsageError("the device in " + dir.string() + " has no store (" + db.string() +
                     " is missing); restore a backup onto it");
  }
  d->store_ = std::make_unique<store::Store>(db, std::move(keys.row_key), false);
  if (auto counter = d->se_->rollback_counter()) {
    d->store_->anchor_to(std::move(counter));
    if (purpose == OpenFor::use) {
      d->store_->verify_anchor();
    }
  }
  d->token_ = std::make_unique<token::Token>(*d->store_, std::move(keys.token),
                                             d->se_->pin_guard(*d->store_));
  try {
    d->token_->migrate_rows();   // rows of the first encoding: the public ones, now
  } catch (const StoreError&) {  // a read-only device: they are read as they are
  }
  return d;
}

namespace {

// tcti_of returns the TCTI of a --secure-element value, "" for a file; UsageError if invalid.
std::string tcti_of(const std::string& spec) {
  if (spec == "file") {
    return "";
  }
  if (spec.rfind("tpm:", 0) == 0 && spec.size() > 4 &&
      spec.find_first_of("\r\n") == std::string::npos) {
    return spec.substr(4);
  }
  throw UsageError("unknown secure element '" + spec +
                   "': use file, or tpm:TCTI (e.g. tpm:device:/dev/tpmrm0, tpm:tabrmd, "
                   "tpm:swtpm:host=127.0.0.1,port=2321)");
}

}  // namespace

button::Press Device::wait_for_press(const std::string& action, std::ostream& out) {
  namespace s = settings;
  std::string spec = store_->setting_text(s::kButtonBackend).value_or(s::kDefaultButton);
  auto timeout = s::read_uint(*store_, s::kButtonTimeout, s::kDefaultButtonTimeout);
  auto button = button::make_button(spec, dir_, se_->insecure_auto_button_allowed, out);
  return button->wait_for_press({action, std::chrono::seconds(timeout)});
}

void Device::personalize(const std::filesystem::path& dir, std::span<const uint8_t> master_key,
                         const PersonalizeOptions& o) {
  if (master_key.size() != 32) {
    throw UsageError("the factory master key must be 32 bytes");
  }
  if (o.diversifier.empty() || o.diversifier.size() > 64 ||
      o.diversifier.find_first_of("\r\n=") != std::string::npos) {
    throw UsageError("the diversifier must be 1 to 64 characters, without '=' or line breaks");
  }
  if (o.serial.size() > 16 || o.serial.find_first_of("\r\n=") != std::string::npos) {
    throw UsageError("the serial must be at most 16 characters, without '=' or line breaks");
  }
  if (o.pbkdf2_iterations < 1000) {
    throw UsageError("--pbkdf2-iterations must be at least 1000");
  }
  if (o.max_login_failures < 1 || o.max_login_failures > 1000) {
    throw UsageError("--max-login-failures must be between 1 and 1000");
  }
  if (o.button_timeout_seconds < 1 || o.button_timeout_seconds > 3600) {
    throw UsageError("--button-timeout must be between 1 and 3600 seconds");
  }
  button::validate_spec(o.button);
  std::string tcti = tcti_of(o.secure_element);
  if (!token::key_policy_from_name(o.key_policy)) {
    throw UsageError("--key-policy must be strict or compatible");
  }
  if (!token::algorithm_policy_from_name(o.algorithms)) {
    throw UsageError("--algorithms must be modern or legacy");
  }
  if (std::filesystem::exists(dir / SecureElement::kFileName)) {
    throw UsageError(dir.string() +
                     " already holds a device; personalizing it again would destroy its keys");
  }
  if (std::filesystem::exists(dir / kStoreFile)) {
    throw UsageError(dir.string() + " holds a store but no secure element; remove " +
                     (dir / kStoreFile).string() + " if it is a leftover");
  }
  std::string serial = o.serial.empty() ? to_hex(crypto::random_bytes(8)) : o.serial;
  bool auto_button = o.button == "insecure-auto";
  crypto::SecureBytes dbk = derive_dbk(master_key, o.diversifier);
  std::unique_ptr<SecureElement> se;
  if (tcti.empty()) {
    se = std::make_unique<FileSecureElement>(serial, o.diversifier, auto_button, std::move(dbk));
  } else {
    se = std::make_unique<TpmSecureElement>(
        TpmSecureElement::program(serial, o.diversifier, auto_button, tcti, dbk));
  }
  auto db = dir / kStoreFile;
  try {
    DeviceKeys keys = derive_device_keys(*se);
    fs::make_private_dir(dir);
    store::Store store(db, std::move(keys.row_key), true);
    if (auto counter = se->rollback_counter()) {
      store.anchor_to(std::move(counter));
    }
    store::Store::WriteTransaction tx(store, store::Anchoring::rebuild);
    store.put_setting(token::settings::kPbkdf2Iterations, std::to_string(o.pbkdf2_iterations));
    store.put_setting(token::settings::kMaxLoginFailures, std::to_string(o.max_login_failures));
    store.put_setting(settings::kButtonBackend, o.button);
    store.put_setting(settings::kButtonTimeout, std::to_string(o.button_timeout_seconds));
    store.put_setting(token::settings::kKeyPolicy, o.key_policy);
    store.put_setting(token::settings::kAlgorithms, o.algorithms);
    store.put_setting(token::settings::kRowEncoding, "2");
    tx.commit();
    // SQLite gives its -wal and -shm files the database file's mode.
    fs::UniqueFd file = fs::open_owned(db, O_RDONLY, fs::owner_of(dir));
    if (!file.valid() || ::fchmod(file.get(), 0600) != 0) {
      throw UsageError("cannot make " + db.string() + " private (mode 0600)");
    }
    // The secure element is written last: a directory is a device only once it exists.
    se->write(dir);
  } catch (...) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(db.string() + suffix);
    }
    se->discard();
    throw;
  }
}

std::filesystem::path default_device_dir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "twinhsm";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : ".") / ".local" / "share" / "twinhsm";
}

}  // namespace twinhsm::device
