// backup_bench: time and peak memory of backup create, verify and restore as the store grows.
// Usage: backup_bench [N ...]   (default: 1000 10000 100000)
// Each phase runs in a forked child, so its peak resident set (getrusage of the child) is its
// own; memory that stays flat as N grows shows that backups stream. The backup is restored twice:
// onto the empty twin, then again over what the first restore wrote ("again": the store's N old
// rows are deleted first, as a restore with --force over a full token does).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "backup/create.h"
#include "backup/reader.h"
#include "backup/restore.h"
#include "crypto/random.h"
#include "device/device.h"
#include "token/attribute_policy.h"

using namespace twinhsm;

namespace {

// press authorizes the bench's own backups as a test device's insecure-auto button does (the
// backup functions take a button::Press; the bench measures them, not a person).
button::Press press(device::Device& d) {
  std::ostringstream quiet;
  return button::make_button("insecure-auto", d.dir(), true, quiet)
      ->wait_for_press({"a backup the bench measures", std::chrono::seconds(1)});
}

struct Phase {
  double seconds;
  long peak_kib;
};

// run_child runs body in a forked process and returns its wall time and peak RSS.
Phase run_child(const std::function<void()>& body) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    try {
      body();
      _exit(0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "backup_bench: %s\n", e.what());
      _exit(1);
    }
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "backup_bench: a phase failed\n");
    std::exit(1);
  }
  return {secs, usage.ru_maxrss};
}

void fill(device::Device& d, size_t n) {
  token::Token& t = d.token();
  t.login(token::Role::user, as_bytes("bench-user"));
  const size_t batch = 5000;
  for (size_t done = 0; done < n;) {
    store::Store::WriteTransaction tx(d.store());
    for (size_t i = 0; i < batch && done < n; ++i, ++done) {
      token::AttributeMap tmpl;
      tmpl.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
      tmpl.set_ulong(CKA_KEY_TYPE, CKK_AES);
      tmpl.set_bool(CKA_TOKEN, true);
      tmpl.set_bool(CKA_PRIVATE, done % 2 == 0);
      tmpl.set(CKA_VALUE, crypto::random_secret(32));
      std::string label = "key-" + std::to_string(done);
      tmpl.set(CKA_LABEL, as_bytes(label));
      tmpl.set(CKA_ID, as_bytes(std::to_string(done)));
      auto attrs = token::complete_template(tmpl, token::Origin::created);
      token::finish_key(attrs, token::Origin::created);
      t.create(std::move(attrs), true, 0);
    }
    tx.commit();
  }
  t.logout();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes;
  for (int i = 1; i < argc; ++i) {
    sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  }
  if (sizes.empty()) {
    sizes = {1000, 10000, 100000};
  }
  char tmpl[] = "/tmp/twinhsm-bench-XXXXXX";
  std::filesystem::path root = mkdtemp(tmpl);
  crypto::SecureBytes master = crypto::random_secret(32);

  std::printf("%-8s %10s %10s %12s %10s %12s %10s %12s %10s %12s\n", "objects", "file MiB",
              "create s", "create KiB", "verify s", "verify KiB", "restore s", "restore KiB",
              "again s", "again KiB");
  for (size_t n : sizes) {
    auto dir = root / ("n" + std::to_string(n));
    device::PersonalizeOptions o;
    o.diversifier = "bench-pair";
    o.pbkdf2_iterations = 1000;
    o.button = "insecure-auto";
    device::Device::personalize(dir / "source", master, o);
    device::Device::personalize(dir / "twin", master, o);
    {
      auto d = device::Device::open(dir / "source");
      d->token().init_token(as_bytes("bench-so"), "bench");
      d->token().login(token::Role::so, as_bytes("bench-so"));
      d->token().init_pin(as_bytes("bench-user"));
      d->token().logout();
      fill(*d, n);
    }
    auto file = dir / "backup.twb";
    Phase create = run_child([&] {
      auto d = device::Device::open(dir / "source");
      backup::AtomicFile out(file, true);
      backup::write_backup(*d, backup::CreateParams::random(), out, press(*d));
      out.commit();
    });
    Phase verify = run_child([&] {
      auto d = device::Device::open(dir / "twin");
      backup::BackupReader r(file);
      backup::check_restorable(*d, r);
      r.for_each_record([](const backup::Record&) {});
    });
    auto restore_once = [&] {
      auto d = device::Device::open(dir / "twin");
      backup::BackupReader r(file);
      backup::check_restorable(*d, r);
      backup::restore(*d, r, press(*d));
    };
    Phase restore = run_child(restore_once);
    Phase again = run_child(restore_once);
    double mib = static_cast<double>(std::filesystem::file_size(file)) / (1 << 20);
    std::printf("%-8zu %10.1f %10.2f %12ld %10.2f %12ld %10.2f %12ld %10.2f %12ld\n", n, mib,
                create.seconds, create.peak_kib, verify.seconds, verify.peak_kib, restore.seconds,
                restore.peak_kib, again.seconds, again.peak_kib);
    std::fflush(stdout);
    std::filesystem::remove_all(dir);
  }
  std::filesystem::remove_all(root);
  return 0;
}
