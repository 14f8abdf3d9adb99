// twinhsm factory: the factory's side. new-master-key makes a factory master key; personalize
// makes a device from it (its DBK diversified by the pair's diversifier).
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/bytes.h"
#include "crypto/random.h"
#include "device/device.h"
#include "fs/durable.h"

namespace twinhsm::cli {

namespace {

crypto::SecureBytes read_master_key(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw UsageError("cannot read the master key file " + path);
  }
  std::string hex;
  std::getline(in, hex);
  while (!hex.empty() && (hex.back() == '\r' || hex.back() == ' ')) {
    hex.pop_back();
  }
  if (hex.size() != 64) {
    crypto::cleanse(hex.data(), hex.size());
    throw UsageError("the master key file " + path + " must hold 64 hex digits");
  }
  Bytes key = from_hex(hex);
  crypto::cleanse(hex.data(), hex.size());
  crypto::SecureBytes out = crypto::secure_copy(key);
  crypto::cleanse(key.data(), key.size());
  return out;
}

}  // namespace

void add_factory_commands(CLI::App& app) {
  auto* factory =
      app.add_subcommand("factory", "Factory operations: master keys and personalization");
  factory->require_subcommand(1);

  auto out = std::make_shared<std::string>();
  auto* nmk = factory->add_subcommand(
      "new-master-key", "Write a new random 256-bit factory master key (hex) to FILE, mode 0600");
  nmk->add_option("-o,--output", *out, "File to create (refused if it exists)")->required();
  nmk->callback([out] {
    crypto::SecureBytes key = crypto::random_secret(32);
    std::string hex = to_hex(key) + "\n";
    fs::write_new_file(*out, as_bytes(hex), 0600);
    crypto::cleanse(hex.data(), hex.size());
    std::cout << "wrote a new factory master key to " << *out
              << "; keep it offline: it makes every device's backup key\n";
  });

  struct Personalize {
    std::string dir, master_key;
    device::PersonalizeOptions options;
  };
  auto p = std::make_shared<Personalize>();
  auto* pers = factory->add_subcommand(
      "personalize",
      "Make a new device in DIR: secure element (serial, diversifier, DBK) and empty store");
  pers->add_option("--device", p->dir, "Directory of the new device (created, mode 0700)")
      ->required();
  pers->add_option("--master-key", p->master_key, "Factory master key file (from new-master-key)")
      ->required();
  pers->add_option("--diversifier", p->options.diversifier,
                   "Pair id: devices personalized with the same one are twins")
      ->required();
  pers->add_option("--serial", p->options.serial, "Serial number (default: 16 random hex digits)");
  pers->add_option("--pbkdf2-iterations", p->options.pbkdf2_iterations,
                   "PBKDF2 iterations for PINs (default " +
                       std::to_string(device::settings::kDefaultPbkdf2Iterations) +
                       ", at least 1000)");
  pers->add_option("--max-login-failures", p->options.max_login_failures,
                   "Wrong PINs in a row before a role is locked (default " +
                       std::to_string(device::settings::kDefaultMaxLoginFailures) + ")");
  pers->add_option(
      "--button", p->options.button,
      "Button backend: socket (default), tty, gpio:CHIP:LINE, insecure-auto (tests only)");
  pers->add_option("--button-timeout", p->options.button_timeout_seconds,
                   "Seconds to wait for a button press (default " +
                       std::to_string(device::settings::kDefaultButtonTimeout) + ")");
  pers->add_option("--algorithms", p->options.algorithms,
                   "modern (default): NIST-approved algorithms and PKCS#11 3.0's modern set; "
                   "legacy: also what SoftHSMv2 has (DES, Triple DES, DSA, DH, MD5, RSA-1024, "
                   "P-192)");
  pers->add_option("--key-policy", p->options.key_policy,
                   "strict (default): no key both wraps keys and encrypts data; compatible: such "
                   "keys may be made for legacy applications, and never wrap a sensitive key");
  pers->add_option("--secure-element", p->options.secure_element,
                   "file (default: a file in DIR, for development and tests) or tpm:TCTI (a TPM "
                   "2.0 holds the key: tpm:device:/dev/tpmrm0, tpm:tabrmd, "
                   "tpm:swtpm:host=H,port=P)");
  pers->callback([p] {
    crypto::SecureBytes master = read_master_key(p->master_key);
    device::Device::personalize(p->dir, master, p->options);
    auto se = device::SecureElement::open(p->dir);
    std::cout << "personalized device " << se->serial << " (diversifier " << se->diversifier
              << ", backup key fingerprint " << se->fingerprint() << ", secure element "
              << se->backend() << ") in " << p->dir << "\n";
    if (p->options.button == "insecure-auto") {
      std::cerr
          << "twinhsm: warning: the insecure-auto button presses itself; use it only for tests\n";
    }
  });
}

}  // namespace twinhsm::cli
