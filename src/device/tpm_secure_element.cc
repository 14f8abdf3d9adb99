#include "device/tpm_secure_element.h"

#include <cstdio>

#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "device/device_keys.h"
#include "device/tpm_pin_guard.h"
#include "tpm/capabilities.h"
#include "tpm/kdf.h"
#include "tpm/nv_counter.h"

namespace twinhsm::device {

namespace {

constexpr std::string_view kCounterAuthLabel = "twinhsm tpm counter auth v1";
constexpr std::string_view kSelfTestLabel = "twinhsm tpm self-test v1";

// TpmRollbackCounter is the store's RollbackCounter on the TPM's NV counter; one short
// connection per call.
class TpmRollbackCounter : public store::RollbackCounter {
 public:
  TpmRollbackCounter(std::string tcti, tpm::NvCounter counter)
      : tcti_(std::move(tcti)), counter_(std::move(counter)) {}
  uint64_t read() override {
    tpm::Context ctx(tcti_);
    return counter_.read(ctx);
  }
  uint64_t increment_from(uint64_t current) override {
    tpm::Context ctx(tcti_);
    uint64_t now = counter_.read(ctx);
    if (now != current) {
      return now;  // someone made it up already
    }
    counter_.increment(ctx);
    return now + 1;
  }

 private:
  std::string tcti_;
  tpm::NvCounter counter_;
};

}  // namespace

TpmSecureElement TpmSecureElement::program(std::string serial, std::string diversifier,
                                           bool insecure_auto_button, const std::string& tcti,
                                           std::span<const uint8_t> dbk) {
  TpmSecureElement se;
  se.serial = std::move(serial);
  se.diversifier = std::move(diversifier);
  se.insecure_auto_button_allowed = insecure_auto_button;
  se.tcti_ = tcti;
  se.fingerprint_ = dbk_fingerprint(dbk);
  crypto::SecureBytes root = device_root(dbk);
  tpm::Link link(tcti);
  se.srk_name_ = tpm::name(link.ctx, link.primary);
  se.kdk_ = tpm::create_hmac_key(link.ctx, link.session, link.primary, root);
  tpm::Object kdk = tpm::load(link.ctx, link.session, link.primary, se.kdk_);
  // The TPM must derive exactly what a file device derives, or twins would not be twins.
  crypto::SecureBytes in_tpm = tpm::kbkdf_counter_hmac_sha256(
      link.ctx, link.session, kdk, kSelfTestLabel, as_bytes(se.serial), 32);
  if (!crypto::ct_equal(in_tpm, crypto::kbkdf_counter_hmac_sha256(root, kSelfTestLabel,
                                                                  as_bytes(se.serial), 32))) {
    throw UsageError("the TPM's HMAC differs from OpenSSL's: it cannot hold this device's keys");
  }
  crypto::SecureBytes auth =
      tpm::kbkdf_counter_hmac_sha256(link.ctx, link.session, kdk, kCounterAuthLabel, {}, 32);
  Bytes seed =
      crypto::digest(crypto::DigestAlg::sha256, as_bytes(se.serial + "\n" + se.diversifier));
  uint32_t first = kNvBase + ((uint32_t{seed[0]} << 8 | seed[1]) % kNvSpan);
  tpm::NvCounter counter = tpm::NvCounter::define(link.ctx, kNvBase, kNvSpan, first, auth);
  se.nv_index_ = counter.index();
  se.nv_name_ = counter.name();
  se.counter_auth_ = std::move(auth);
  return se;
}

TpmSecureElement TpmSecureElement::from_file(const SecureElementFile& file) {
  TpmSecureElement se;
  se.serial = file.require("serial");
  se.diversifier = file.require("diversifier");
  se.insecure_auto_button_allowed = file.get("insecure_auto_button") == "1";
  se.tcti_ = file.require("tcti");
  se.fingerprint_ = file.require("dbk_fingerprint");
  try {
    se.kdk_.public_area = from_hex(file.require("kdk_public"));
    se.kdk_.private_area = from_hex(file.require("kdk_private"));
    se.nv_index_ = static_cast<uint32_t>(std::stoul(file.require("nv_index"), nullptr, 16));
    se.nv_name_ = from_hex(file.require("nv_name"));
    se.srk_name_ = from_hex(file.get("srk_name"));
  } catch (const UsageError&) {
    throw IntegrityError("the secure element file holds a malformed TPM field");
  } catch (const std::logic_error&) {
    throw IntegrityError("the secure element file holds a malformed NV index");
  }
  return se;
}

std::vector<crypto::SecureBytes> TpmSecureElement::derive(
    const std::vector<Derivation>& requests) const {
  tpm::Link link(tcti_, srk_name_);
  tpm::Object kdk = tpm::load(link.ctx, link.session, link.primary, kdk_);
  std::vector<crypto::SecureBytes> keys;
  keys.reserve(requests.size());
  for (const Derivation& d : requests) {
    keys.push_back(
        tpm::kbkdf_counter_hmac_sha256(link.ctx, link.session, kdk, d.label, d.context, d.length));
  }
  if (!counter_auth_) {
    // While the key is loaded: the store's counter needs it next (one connection less).
    counter_auth_ =
        tpm::kbkdf_counter_hmac_sha256(link.ctx, link.session, kdk, kCounterAuthLabel, {}, 32);
  }
  return keys;
}

crypto::SecureBytes TpmSecureElement::counter_auth() const {
  if (!counter_auth_) {
    derive({});
  }
  return *counter_auth_;
}

std::unique_ptr<store::RollbackCounter> TpmSecureElement::rollback_counter() const {
  return std::make_unique<TpmRollbackCounter>(tcti_,
                                              tpm::NvCounter(nv_index_, nv_name_, counter_auth()));
}

std::unique_ptr<token::PinGuard> TpmSecureElement::pin_guard(store::Store& store) const {
  return std::make_unique<TpmPinGuard>(tcti_, srk_name_, store);
}

std::string TpmSecureElement::nv_index_text() const {
  char s[16];
  std::snprintf(s, sizeof s, "0x%08x", nv_index_);
  return s;
}

std::optional<TpmDescription> TpmSecureElement::describe_tpm() const {
  tpm::Context ctx(tcti_);
  tpm::Identity id = tpm::identity(ctx);
  tpm::LockoutState lockout = tpm::lockout_state(ctx);
  TpmDescription d;
  d.tcti = tcti_;
  d.manufacturer = id.manufacturer;
  d.vendor = id.vendor;
  d.firmware = id.firmware;
  d.nv_index = nv_index_text();
  d.lockout_failures = lockout.failures;
  d.lockout_max_tries = lockout.max_tries;
  d.lockout_recovery_seconds = lockout.recovery_seconds;
  d.in_lockout = lockout.in_lockout;
  return d;
}

void TpmSecureElement::write(const std::filesystem::path& dir) const {
  SecureElementFile file(kHeader);
  file.add("serial", serial);
  file.add("diversifier", diversifier);
  file.add("insecure_auto_button", insecure_auto_button_allowed ? "1" : "0");
  file.add("tcti", tcti_);
  file.add("dbk_fingerprint", fingerprint_);
  file.add("kdk_public", to_hex(kdk_.public_area));
  file.add("kdk_private", to_hex(kdk_.private_area));
  file.add("srk_name", to_hex(srk_name_));
  file.add("nv_index", nv_index_text());
  file.add("nv_name", to_hex(nv_name_));
  file.write(dir);
}

void TpmSecureElement::discard() const {
  try {
    tpm::NvCounter counter(nv_index_, nv_name_, counter_auth());  // before: it may connect too
    tpm::Context ctx(tcti_);
    counter.undefine(ctx);
  } catch (const Error&) {
    // best effort: the personalization's own error is the one to report
  }
}

}  // namespace twinhsm::device
