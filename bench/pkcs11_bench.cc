// pkcs11_bench: twinhsm, SoftHSMv2 and raw OpenSSL 3 doing the same work, measured in one run,
// interleaved (each round visits every implementation, starting with a different one each round),
// medians of several rounds. docs/performance.md shows a run and says how to read it;
// bench/run.sh is the one command to run it.
//
// Every PKCS#11 module is loaded by path (dlopen + C_GetFunctionList) and used only through its
// function list. twinhsm runs on a fresh device made with the `twinhsm` CLI (factory
// new-master-key, factory personalize, token init); SoftHSMv2 on a throw-away token directory
// (SOFTHSM2_CONF), its token initialized through C_InitToken / C_InitPIN. The same keys (made
// with OpenSSL) are imported into both tokens as private token objects.
//
// Hidden modes (the benchmark runs itself):
//   pkcs11_bench --cold-start-child MODULE SLOT PIN LABEL PBKDF2_ITERATIONS
//     a fresh process: prints the seconds of dlopen, C_Initialize, C_OpenSession, C_Login, the
//     first find by label, and of a PBKDF2 of that many iterations (0: none) done right after.
//   pkcs11_bench --measure-child OUT -- PROGRAM ARGS...
//     runs PROGRAM (output to OUT) and prints its exit code, wall time and peak RSS.
//   pkcs11_bench --process-child MODULE SLOT PIN PREFIX
//     a worker of the processes group (bench_processes.h).
//
// pkcs11_bench.h holds what the program's files share; the object and backup figures are in
// bench_objects.cc, the "Done when" lines in bench_checks.cc.
#include "pkcs11_bench.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "bench_backends.h"
#include "bench_processes.h"
#include "bench_support.h"
#include "isolated_backend.h"

extern char** environ;

namespace bench {

namespace {

const char* const kUsage = R"(usage: pkcs11_bench [OPTIONS]

Measures twinhsm, SoftHSMv2 and raw OpenSSL 3 doing the same work, interleaved, and prints a
table of medians with the ratios twinhsm/OpenSSL and twinhsm/SoftHSMv2.

  --sizes LIST             object counts for the object benchmarks (default 1000,10000)
  --softhsm-max-n N        no SoftHSMv2 object figures beyond N objects (default 10000)
  --fill-processes K       a chunk of at least --fill-min objects is created by K worker
                           processes at once, each one C_CreateObject per object (default 4;
                           1: the benchmark's own session, always)
  --fill-min N             default 200000
  --rounds R               rounds; every figure is the median of R samples (default 5)
  --sample-seconds S       length of one timed sample (default 0.25)
  --pbkdf2-iterations N    twinhsm device's PBKDF2 iterations (default 600000, the product's)
  --quick                  about a minute: --rounds 3 --sample-seconds 0.2 --sizes 1000
  --only GROUPS            some of login,crypto,threads,objects,backup,processes,isolated
                           (default all; processes: 1 and 2 processes signing and creating
                           objects on one token, in windows of 2.5 sample lengths, at least
                           0.5 s; with --quick 0.15 s signing, 0.3 s creating; isolated:
                           ECDSA signing and finds among the smallest N through p11-kit server
                           + p11-kit-client.so beside in-process)
  --impls LIST             some of twinhsm,softhsm,openssl (default all)
  --works LIST             some of rsa,ecdsa,ed25519,gcm,cbc,hmac,sha256,getattr,session for
                           the crypto and threads
                           groups (default all; handy under perf)
  --twinhsm-module PATH    libtwinhsm.so (default: the one built with this program)
  --twinhsm-cli PATH       the twinhsm CLI (default: the one built with this program)
  --softhsm-module PATH    default /usr/lib/softhsm/libsofthsm2.so
  --p11-kit-client PATH    p11-kit's client module for the isolated group (default
                           /usr/lib/<multiarch>/pkcs11/p11-kit-client.so; missing: n/a)
  --isolated-provider PATH the module p11-kit server loads (default --twinhsm-module; e.g.
                           pkcs11-spy.so with PKCS11SPY=libtwinhsm.so to count the calls)
  --workdir DIR            where twinhsm's temporary devices go (default $TMPDIR or /tmp; a
                           real disk, for twinhsm's fsyncs to cost what they cost)
  --softhsm-tokendir DIR   where SoftHSMv2's token directory goes (default /dev/shm when it is
                           a writable directory, else the work directory). SoftHSMv2's file
                           store rewrites an object's file once per attribute, and on ext4 each
                           ftruncate waits for the disk: 10-150 objects/s on this machine, up to
                           a quarter of an hour for 10,000. Finds and cold starts read the page
                           cache either way.
  --softhsm-on-disk        SoftHSMv2's token directory in the work directory, next to twinhsm's
  --note TEXT              a line for the header (bench/run.sh gives the source revision)
  --keep                   keep the temporary directory
  --verbose                print every sample as well
)";

std::vector<size_t> parse_sizes(const std::string& s) {
  std::vector<size_t> out;
  for (const auto& part : split(s, ',')) {
    out.push_back(std::stoul(part));
  }
  return out;
}

Clock::time_point g_start = Clock::now();

std::string with_commas(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return out;
}

}  // namespace

void progress(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "[%5.0fs] ", seconds_since(g_start));
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

std::string n_str(size_t n) {
  return with_commas(n);
}

namespace {

// ---- cleanup on SIGINT / SIGTERM ----

// The temporary directories to remove when the run is interrupted (set before any signal can
// need them; the handler only reads them).
std::vector<std::string>& cleanup_dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

char* g_rm_argv[8];

void on_signal(int sig) {
  stop_isolated_server_from_signal();
  // fork, execve and waitpid are async-signal-safe; std::filesystem is not.
  pid_t pid = fork();
  if (pid == 0) {
    execve("/bin/rm", g_rm_argv, environ);
    _exit(127);
  }
  if (pid > 0) {
    waitpid(pid, nullptr, 0);
  }
  _exit(128 + sig);
}

void install_cleanup_handlers() {
  static std::vector<std::string> args;
  args = {"rm", "-rf", "--"};
  for (const auto& d : cleanup_dirs()) {
    if (args.size() < 7) {
      args.push_back(d);
    }
  }
  size_t k = 0;
  for (auto& a : args) {
    g_rm_argv[k++] = a.data();
  }
  g_rm_argv[k] = nullptr;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

// ---- setup ----

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// make_twinhsm personalizes two twin devices (the one under test and the restore target) and
// initializes the first one's token, with the CLI; points TWINHSM_CONF at the first.
void make_twinhsm(const Options& o, const TestData& data, const std::filesystem::path& root) {
  auto mk = root / "master.key";
  run_checked({o.twinhsm_cli, "factory", "new-master-key", "-o", mk.string()});
  for (const char* name : {"twinhsm", "twin"}) {
    // insecure-auto: the backup figures need a button that presses itself (test devices only);
    // nothing else of the device depends on the button.
    run_checked({o.twinhsm_cli, "factory", "personalize", "--device", (root / name).string(),
                 "--master-key", mk.string(), "--diversifier", "bench-pair", "--pbkdf2-iterations",
                 std::to_string(o.pbkdf2_iterations), "--button", "insecure-auto"});
  }
  run_checked({o.twinhsm_cli, "token", "init", "--device", (root / "twinhsm").string(), "--label",
               "bench", "--so-pin", data.so_pin, "--pin", data.user_pin});
  write_file(root / "twinhsm.toml", "[[slot]]\ndevice = \"" + (root / "twinhsm").string() + "\"\n");
  setenv("TWINHSM_CONF", (root / "twinhsm.toml").c_str(), 1);
}

// make_softhsm writes a SoftHSMv2 configuration with an empty token directory, points
// SOFTHSM2_CONF at it and initializes a token labelled "bench" with C_InitToken and C_InitPIN.
void make_softhsm(const Options& o, const TestData& data, const std::filesystem::path& root,
                  const std::filesystem::path& tokendir) {
  std::filesystem::create_directories(tokendir);
  write_file(root / "softhsm2.conf", "directories.tokendir = " + tokendir.string() +
                                         "\nobjectstore.backend = file" +
                                         "\nlog.level = ERROR\nslots.removable = false\n");
  setenv("SOFTHSM2_CONF", (root / "softhsm2.conf").c_str(), 1);
  Module m(o.softhsm_module);
  CK_FUNCTION_LIST* f = m.f();
  initialize(f);
  CK_ULONG n = 0;
  check(f->C_GetSlotList(CK_TRUE, nullptr, &n), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  check(f->C_GetSlotList(CK_TRUE, slots.data(), &n), "C_GetSlotList");
  if (n == 0) {
    throw std::runtime_error("SoftHSMv2 shows no slot");
  }
  std::string label = padded_label("bench");
  check(f->C_InitToken(slots[0], (CK_UTF8CHAR_PTR)data.so_pin.data(), data.so_pin.size(),
                       (CK_UTF8CHAR_PTR)label.data()),
        "C_InitToken");
  CK_SESSION_HANDLE s;
  check(f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
        "C_OpenSession");
  check(f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)data.so_pin.data(), data.so_pin.size()),
        "C_Login(SO)");
  check(f->C_InitPIN(s, (CK_UTF8CHAR_PTR)data.user_pin.data(), data.user_pin.size()), "C_InitPIN");
  check(f->C_Logout(s), "C_Logout");
  check(f->C_CloseSession(s), "C_CloseSession");
  // The initialized token gets its own slot id on the next C_Initialize.
  check(f->C_Finalize(nullptr), "C_Finalize");
}

std::string library_description(const P11Backend& p) {
  CK_INFO info{};
  if (p.f()->C_GetInfo(&info) != CKR_OK) {
    return "?";
  }
  std::string lib(reinterpret_cast<const char*>(info.libraryDescription), 32);
  lib.erase(lib.find_last_not_of(' ') + 1);
  return lib + " " + std::to_string(info.libraryVersion.major) + "." +
         std::to_string(info.libraryVersion.minor);
}

// measure_child (hidden mode --measure-child OUT -- PROGRAM ARGS...) runs PROGRAM with its output
// in OUT and prints "EXIT SECONDS MAX_RSS_KIB". It exists because a child's ru_maxrss counts the
// memory of the process it was forked from (Linux keeps the pre-exec high-water mark): forked
// from this small fresh process, PROGRAM's peak is its own, not the benchmark's.
int measure_child(int argc, char** argv) {
  if (argc < 5 || std::strcmp(argv[3], "--") != 0) {
    std::fprintf(stderr, "usage: pkcs11_bench --measure-child OUT -- PROGRAM ARGS...\n");
    return 2;
  }
  std::vector<std::string> args(argv + 4, argv + argc);
  ChildResult r = run_process(args, true);
  {
    std::ofstream out(argv[2], std::ios::trunc);
    out << r.out;
  }
  std::printf("%d %.9f %ld\n", r.exit_code, r.seconds, r.max_rss_kib);
  return 0;
}

const std::vector<Work> kWorks = {
    Work::rsa2048_sign,  Work::ecdsa_p256_sign,   Work::ed25519_sign,
    Work::aes256_gcm_1m, Work::aes256_cbc_pad_1m, Work::hmac_sha256_1k,
    Work::sha256_64,     Work::get_label,         Work::open_close};

}  // namespace

ChildResult run_measured(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  std::vector<std::string> full = {"/proc/self/exe", "--measure-child", log.string(), "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  ChildResult helper = run_process(full, false);
  ChildResult r;
  if (helper.exit_code != 0 || std::sscanf(helper.out.c_str(), "%d %lf %ld", &r.exit_code,
                                           &r.seconds, &r.max_rss_kib) != 3) {
    throw std::runtime_error("--measure-child failed: " + helper.out);
  }
  r.out = slurp(log.string());
  if (r.exit_code != 0) {
    throw std::runtime_error(argv[0] + " " + argv[1] + " " + argv[2] + ": exit " +
                             std::to_string(r.exit_code) + ": " + r.out);
  }
  return r;
}

// ---- the benchmark ----

void Bench::setup() {
  root_ = std::make_unique<TempDir>("pkcs11-bench-", o_.workdir);
  if (o_.keep) {
    root_->keep();
  } else {
    cleanup_dirs().push_back(root_->path().string());
    install_cleanup_handlers();
  }
  progress("work directory %s; generating keys", root_->path().c_str());
  data_ = std::make_unique<TestData>();
  data_->pbkdf2_iterations = o_.pbkdf2_iterations;
  if (o_.impls.count("twinhsm")) {
    progress("twinhsm: personalizing a device (PBKDF2 %u iterations) and initializing its token",
             o_.pbkdf2_iterations);
    make_twinhsm(o_, *data_, root_->path());
    twinhsm_ = std::make_unique<P11Backend>(kTw, o_.twinhsm_module, "bench", *data_);
    impls_.push_back({kTw, twinhsm_.get(), twinhsm_.get()});
    store_dirs_[kTw] = root_->path() / "twinhsm";
  }
  if (o_.impls.count("softhsm")) {
    progress("SoftHSMv2: initializing a token in a temporary token directory");
    try {
      std::filesystem::path tokendir = root_->path() / "softhsm-tokens";
      std::string base = o_.softhsm_tokendir;
      if (base == "auto") {
        base = access("/dev/shm", W_OK | X_OK) == 0 && std::filesystem::is_directory("/dev/shm")
                   ? "/dev/shm"
                   : "";
      }
      if (!base.empty()) {
        softhsm_dir_ = std::make_unique<TempDir>("pkcs11-bench-softhsm-", base);
        if (o_.keep) {
          softhsm_dir_->keep();
        }
        tokendir = softhsm_dir_->path();
        cleanup_dirs().push_back(tokendir.string());
        if (!o_.keep) {
          install_cleanup_handlers();
        }
      }
      note("SoftHSMv2's token directory: " + tokendir.string() + "; twinhsm's device: " +
           (root_->path() / "twinhsm").string() + " (--softhsm-on-disk, --softhsm-tokendir)");
      make_softhsm(o_, *data_, root_->path(), tokendir);
      softhsm_ = std::make_unique<P11Backend>(kSoft, o_.softhsm_module, "bench", *data_);
      impls_.push_back({kSoft, softhsm_.get(), softhsm_.get()});
      store_dirs_[kSoft] = tokendir;
    } catch (const std::exception& e) {
      note(std::string("SoftHSMv2 unavailable, its column is n/a: ") + e.what());
    }
  }
  if (softhsm_ && softhsm_->ecdsa_prehash()) {
    note(
        "SoftHSMv2 lacks CKM_ECDSA_SHA256: its ECDSA figures are SHA-256 in the benchmark + "
        "CKM_ECDSA");
  }
  if (o_.impls.count("openssl")) {
    openssl_ = std::make_unique<OpenSslBackend>(*data_);
    impls_.push_back({kOssl, openssl_.get(), nullptr});
  }

  std::string cpu = "?";
  {
    std::istringstream in(slurp("/proc/cpuinfo"));
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("model name", 0) == 0) {
        cpu = line.substr(line.find(':') + 2);
        break;
      }
    }
  }
  std::string load = slurp("/proc/loadavg");
  load = load.substr(0, load.find(' ', load.find(' ', load.find(' ') + 1) + 1));
  time_t now = time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  header_.push_back(std::string("pkcs11_bench, ") + date + ", " + cpu + ", " +
                    std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
                    " CPUs, load average at start " + load);
  std::string libs = std::string(OpenSSL_version(OPENSSL_VERSION));
  if (twinhsm_) {
    libs += "; twinhsm: " + library_description(*twinhsm_);
  }
  if (softhsm_) {
    libs += "; SoftHSMv2: " + library_description(*softhsm_) + " (file store)";
  }
  header_.push_back(libs);
  std::string sizes;
  for (size_t n : o_.sizes) {
    sizes += (sizes.empty() ? "" : ",") + std::to_string(n);
  }
  char opts[256];
  std::snprintf(
      opts, sizeof opts,
      "rounds %d, samples of %.2f s, sizes %s (SoftHSMv2 up to %zu), twinhsm PBKDF2 %u iterations",
      o_.rounds, o_.sample_seconds, sizes.c_str(), o_.softhsm_max_n, o_.pbkdf2_iterations);
  header_.push_back(opts);
  for (const auto& n : o_.notes) {
    header_.push_back(n);
  }
}

// sanity runs every operation once on every implementation: records what is unsupported, and
// checks that the outputs agree with OpenSSL's on the same keys and data.
void Bench::sanity() {
  for (Work w : kWorks) {
    std::optional<Bytes> reference;  // none: raw OpenSSL has no counterpart
    try {
      OpenSslBackend ref(*data_);
      Op op = ref.make_op(w);
      op.run();
      reference = *op.out;
    } catch (const Unsupported&) {
    }
    for (Impl& i : impls_) {
      std::string why;
      try {
        Op op = i.backend->make_op(w);
        op.run();
        if (i.p11 && reference) {
          std::string wrong = check_output(w, *data_, *op.out, *reference);
          if (!wrong.empty()) {
            note("WRONG: " + i.name + " " + work_name(w) + ": " + wrong);
          }
        }
        continue;
      } catch (const Unsupported& e) {
        why = e.what();
      } catch (const P11Error& e) {
        if (e.rv() == CKR_MECHANISM_INVALID || e.rv() == CKR_FUNCTION_NOT_SUPPORTED ||
            e.rv() == CKR_KEY_TYPE_INCONSISTENT || e.rv() == CKR_MECHANISM_PARAM_INVALID) {
          why = e.what();
        } else {
          why = std::string("ERROR ") + e.what();
        }
      } catch (const std::exception& e) {
        why = std::string("ERROR ") + e.what();
      }
      na_[{i.name, w}] = why;
      note(i.name + " " + work_name(w) + ": n/a (" + why + ")");
    }
  }
}

void Bench::bench_login() {
  Row& row = results_.row("login", "login",
                          "C_Login (OpenSSL: PBKDF2-HMAC-SHA256, same iterations)", "ms", false);
  Row& cpu =
      results_.row("login-cpu", "login", "C_Login, CPU time (OpenSSL: PBKDF2's)", "ms", false);
  for (int r = 0; r < o_.rounds; ++r) {
    progress("C_Login, round %d/%d", r + 1, o_.rounds);
    probe_disk();
    for (Impl* i : order(impls_, r)) {
      Timing t = named(
          *i, [&] { return i->p11 ? i->p11->login() : time_both([&] { openssl_->pbkdf2(); }); });
      row.samples[i->name].push_back(t.wall * 1000);
      cpu.samples[i->name].push_back(t.cpu * 1000);
    }
  }
  if (Impl* tw = impl(kTw); tw && openssl_) {
    Row& extra =
        results_.row("login-extra", "login", "C_Login minus PBKDF2 (same round)", "ms", false);
    for (Impl& i : impls_) {
      if (i.name != kTw) {
        extra.na[i.name] = "";
      }
    }
    const auto& t = row.samples[kTw];
    const auto& p = row.samples[kOssl];
    for (size_t k = 0; k < t.size() && k < p.size(); ++k) {
      extra.samples[kTw].push_back(t[k] - p[k]);
    }
  }
}

namespace {

struct WorkRow {
  Work w;
  std::string key, label, unit;
  double per_op;  // figure = rate * per_op (MiB per op for the bulk ciphers)
};

std::vector<WorkRow> work_rows() {
  return {
      {Work::rsa2048_sign, "rsa", "RSA-2048 sign (CKM_SHA256_RSA_PKCS, 64 B)", "ops/s", 1},
      {Work::ecdsa_p256_sign, "ecdsa", "ECDSA P-256 sign (CKM_ECDSA_SHA256, 64 B)", "ops/s", 1},
      {Work::ed25519_sign, "ed25519", "Ed25519 sign (CKM_EDDSA, 64 B)", "ops/s", 1},
      {Work::aes256_gcm_1m, "gcm", "AES-256-GCM encrypt 1 MiB", "MiB/s", 1},
      {Work::aes256_cbc_pad_1m, "cbc", "AES-256-CBC-PAD encrypt 1 MiB", "MiB/s", 1},
      {Work::hmac_sha256_1k, "hmac", "HMAC-SHA256 1 KiB (CKM_SHA256_HMAC)", "ops/s", 1},
      {Work::sha256_64, "sha256", "SHA-256 64 B (C_DigestInit + C_Digest)", "ops/s", 1},
      {Work::get_label, "getattr", "C_GetAttributeValue(CKA_LABEL)", "calls/s", 1},
      {Work::open_close, "session", "C_OpenSession + C_CloseSession", "pairs/s", 1},
  };
}

}  // namespace

void Bench::bench_crypto() {
  auto rows = work_rows();
  std::erase_if(rows, [&](const WorkRow& wr) { return !o_.works.count(wr.key); });
  for (const WorkRow& wr : rows) {
    Row& row = results_.row(wr.key, "crypto", wr.label, wr.unit, true);
    for (Impl& i : impls_) {
      if (!supported(i, wr.w)) {
        row.na[i.name] = na_[{i.name, wr.w}];
      }
    }
  }
  for (int r = 0; r < o_.rounds; ++r) {
    progress("signatures and ciphers, round %d/%d", r + 1, o_.rounds);
    for (const WorkRow& wr : rows) {
      Row& row = *results_.find(wr.key);
      for (Impl* i : order(impls_, r)) {
        if (!supported(*i, wr.w)) {
          continue;
        }
        double v = named(*i, [&] {
          Op op = i->backend->make_op(wr.w);
          return rate({op.run}, o_.sample_seconds) * wr.per_op;
        });
        row.samples[i->name].push_back(v);
      }
    }
  }
}

void Bench::bench_threads() {
  struct T {
    Work w;
    std::string key, name;
  };
  std::vector<T> algs = {{Work::ecdsa_p256_sign, "ecdsa", "ECDSA P-256 sign"},
                         {Work::rsa2048_sign, "rsa", "RSA-2048 sign"}};
  std::erase_if(algs, [&](const T& t) { return !o_.works.count(t.key); });
  for (int r = 0; r < o_.rounds; ++r) {
    progress("signing with 1 and 2 threads, round %d/%d", r + 1, o_.rounds);
    for (const T& a : algs) {
      Row& one = results_.row("threads1-" + a.key, "threads", a.name + ", 1 thread", "ops/s", true);
      Row& two = results_.row("threads2-" + a.key, "threads", a.name + ", 2 threads (2 sessions)",
                              "ops/s", true);
      Row& ratio =
          results_.row("scaling-" + a.key, "threads", a.name + ", 2 threads / 1 thread", "x", true);
      Row& cores = results_.row("cores-" + a.key, "threads",
                                a.name + ", 2 threads: CPU time / wall time", "cores", true);
      for (Impl* i : order(impls_, r)) {
        if (!supported(*i, a.w)) {
          one.na[i->name] = two.na[i->name] = ratio.na[i->name] = cores.na[i->name] =
              na_[{i->name, a.w}];
          continue;
        }
        double used = 0;
        auto [r1, r2] = named(*i, [&] {
          Op op1 = i->backend->make_op(a.w);
          double one_thread = rate({op1.run}, o_.sample_seconds);
          Op op2a = i->backend->make_op(a.w);
          Op op2b = i->backend->make_op(a.w);
          return std::pair{one_thread, rate({op2a.run, op2b.run}, o_.sample_seconds, 1, &used)};
        });
        cores.samples[i->name].push_back(used);
        one.samples[i->name].push_back(r1);
        two.samples[i->name].push_back(r2);
        ratio.samples[i->name].push_back(r2 / r1);
      }
    }
  }
}

// Issue 16, many processes on one device: worker processes of this program (bench_processes.h)
// on the token of each PKCS#11 implementation; in each round one of them alone, then both in the
// same window, signing and then creating objects. Afterwards every object the workers created
// must be found by this process.
void Bench::bench_processes() {
  struct P {
    std::string key, what, unit;
  };
  const std::vector<P> works = {{"sign", "ECDSA P-256 sign (CKM_ECDSA_SHA256)", "ops/s"},
                                {"create", "create private token objects", "objects/s"}};
  // --quick keeps the whole run under a minute.
  double full = std::max(0.5, 2.5 * o_.sample_seconds);
  const std::string sec = "processes (one token)";
  for (const P& w : works) {
    results_.row("proc1-" + w.key, sec, w.what + ", 1 process", w.unit, true);
    results_.row("proc2-" + w.key, sec, w.what + ", 2 processes (sum)", w.unit, true);
    results_.row("procscale-" + w.key, sec, w.what + ", 2 processes / 1 process", "x", true);
    results_.row("procshare-" + w.key, sec, w.what + ", 2 processes: slower / faster", "x", true);
    results_.row("proccores1-" + w.key, sec, w.what + ", 1 process: CPU time / wall time", "cores",
                 true);
    results_.row("proccores-" + w.key, sec, w.what + ", 2 processes: CPU time / wall time", "cores",
                 true);
    // Per CPU second: 1.0 when the processes share nothing but the CPUs (on a busy machine the
    // ratio above is what the CPUs allowed).
    results_.row("procpercpu-" + w.key, sec, w.what + ", 2 processes / 1 process, per CPU second",
                 "x", true);
  }
  Row& created =
      results_.row("proc-created", sec, "objects the 2 processes created", "objects", true);
  Row& found =
      results_.row("proc-found", sec, "  of which this process finds afterwards", "objects", true);
  std::map<std::string, std::unique_ptr<Workers>> workers;
  std::map<std::string, size_t> before;
  for (Impl& i : impls_) {
    if (!i.p11) {
      for (Row* r : {&created, &found}) {
        r->na[i.name] = "";
      }
      continue;
    }
    progress("%s: starting 2 worker processes (each logs in)", i.name.c_str());
    before[i.name] = named(i, [&] { return i.p11->count_by_id(kProcessObjectId); });
    workers[i.name] = named(i, [&] {
      return std::make_unique<Workers>("/proc/self/exe", i.p11->module_path(), i.p11->slot(),
                                       data_->user_pin,
                                       std::vector<std::string>{"proc-a-", "proc-b-"});
    });
  }
  for (int r = 0; r < o_.rounds; ++r) {
    progress("1 and 2 processes signing and creating objects, round %d/%d", r + 1, o_.rounds);
    for (const P& w : works) {
      for (Impl* i : order(impls_, r)) {
        if (!i->p11) {
          continue;
        }
        Workers& ws = *workers[i->name];
        size_t alone = static_cast<size_t>(r) % 2;
        double window = !o_.quick ? full : w.key == "sign" ? 0.15 : 0.3;
        auto [one, two] = named(*i, [&] {
          // Alone first in even rounds, the pair first in odd ones.
          Workers::Result a, b;
          if (r % 2 == 0) {
            a = ws.run(w.key, {alone}, window);
            b = ws.run(w.key, {0, 1}, window);
          } else {
            b = ws.run(w.key, {0, 1}, window);
            a = ws.run(w.key, {alone}, window);
          }
          return std::pair{a, b};
        });
        double sum = two.rates[0] + two.rates[1];
        auto [lo, hi] = std::minmax(two.rates[0], two.rates[1]);
        results_.find("proc1-" + w.key)->samples[i->name].push_back(one.rates[0]);
        results_.find("proc2-" + w.key)->samples[i->name].push_back(sum);
        results_.find("procscale-" + w.key)->samples[i->name].push_back(sum / one.rates[0]);
        results_.find("procshare-" + w.key)->samples[i->name].push_back(hi > 0 ? lo / hi : 0);
        results_.find("proccores1-" + w.key)->samples[i->name].push_back(one.cores);
        results_.find("proccores-" + w.key)->samples[i->name].push_back(two.cores);
        if (one.cores > 0 && two.cores > 0 && one.rates[0] > 0) {
          results_.find("procpercpu-" + w.key)
              ->samples[i->name]
              .push_back((sum / two.cores) / (one.rates[0] / one.cores));
        }
        if (w.key == "create") {
          probe_disk();
        }
      }
    }
  }
  for (auto& [name, ws] : workers) {
    uint64_t made = ws->created();
    Impl* i = impl(name);
    size_t now = named(*i, [&] { return i->p11->count_by_id(kProcessObjectId); });
    created.samples[name].push_back(static_cast<double>(made));
    found.samples[name].push_back(static_cast<double>(now - before[name]));
  }
}

// Issue 16, isolated mode: ECDSA signing, finds among n private objects and one
// C_GetAttributeValue, through p11-kit server + p11-kit-client.so (isolated_backend.h) beside
// twinhsm in-process on the same token, interleaved; and the round trips per operation.
void Bench::bench_isolated(size_t n) {
  const std::string ns = n_str(n);
  const std::string sec = "isolated mode N=" + ns + " (p11-kit server + p11-kit-client.so)";
  const std::string find = "find 1 by CKA_LABEL among " + ns + " private";
  auto mk = [&](const std::string& key, const std::string& label, const std::string& unit,
                bool higher) -> Row& {
    Row& row = results_.row("iso-" + key, sec, label, unit, higher);
    for (Impl& i : impls_) {
      if (i.name != kTw) {
        row.na[i.name] = "";
      }
    }
    return row;
  };
  Row& sign_in = mk("sign-in", "ECDSA P-256 sign, in-process", "ops/s", true);
  Row& sign_iso = mk("sign", "ECDSA P-256 sign, isolated", "ops/s", true);
  Row& sign_q = mk("sign-ratio", "  isolated / in-process", "x", true);
  Row& sign_add = mk("sign-added", "  isolated adds per sign", "us", false);
  Row& sign_rt = mk("sign-rt", "  round trips per sign (C_SignInit, C_Sign)", "calls", false);
  Row& find_in = mk("find-in", find + ", in-process", "lookups/s", true);
  Row& find_iso = mk("find", find + ", isolated", "lookups/s", true);
  Row& find_q = mk("find-ratio", "  isolated / in-process", "x", true);
  Row& find_add = mk("find-added", "  isolated adds per find", "us", false);
  Row& find_rt = mk("find-rt", "  round trips per find (Init, FindObjects, Final)", "calls", false);
  Row& call_in = mk("call-in", "C_GetAttributeValue(CKA_LABEL), in-process", "calls/s", true);
  Row& call_iso = mk("call", "C_GetAttributeValue(CKA_LABEL), isolated", "calls/s", true);
  Row& call_add = mk("call-added", "  p11-kit's RPC per call (isolated - in-process)", "us", false);
  std::vector<Row*> all = {&sign_in, &sign_iso, &sign_q,  &sign_add, &sign_rt,  &find_in, &find_iso,
                           &find_q,  &find_add, &find_rt, &call_in,  &call_iso, &call_add};
  auto unavailable = [&](const std::string& why) {
    for (Row* row : all) {
      row->na[kTw] = why;
    }
    note("isolated mode: n/a (" + why + ")");
  };
  if (!twinhsm_) {
    unavailable("no twinhsm");
    return;
  }
  std::string client = o_.p11_kit_client.empty() ? p11_kit_client_path() : o_.p11_kit_client;
  if (client.empty() || access(client.c_str(), R_OK) != 0) {
    unavailable("p11-kit-client.so " + (client.empty() ? "not found" : client + " missing") +
                " (Debian package p11-kit-modules)");
    return;
  }
  if (twinhsm_->objects() < n) {
    progress("twinhsm: creating objects %zu..%zu for the isolated finds", twinhsm_->objects(), n);
    twinhsm_->create_objects(twinhsm_->objects(), n);
  }
  std::string provider = o_.isolated_provider.empty() ? o_.twinhsm_module : o_.isolated_provider;
  progress("isolated mode: starting p11-kit server for %s", provider.c_str());
  try {
    iso_server_ =
        std::make_unique<IsolatedServer>(provider, "bench", root_->path() / "p11-kit.sock");
    isolated_ = std::make_unique<P11Backend>(kTw + " isolated", client, "bench", *data_, false);
  } catch (const std::exception& e) {
    isolated_.reset();
    iso_server_.reset();
    unavailable(std::string("cannot start: ") + e.what());
    return;
  }
  note("isolated mode: " + client + " to `p11-kit server --provider " + provider + "` (pid " +
       std::to_string(iso_server_->pid()) + "), the device of the twinhsm column");
  if (isolated_->ecdsa_prehash()) {
    note(
        "isolated mode: p11-kit's RPC does not carry CKM_ECDSA_SHA256 (docs/clients.md): its "
        "ECDSA figures are SHA-256 in the benchmark + CKM_ECDSA, still C_SignInit + C_Sign");
  }
  for (int r = 0; r < o_.rounds; ++r) {
    progress("isolated mode and in-process, round %d/%d", r + 1, o_.rounds);
    // --quick: shorter samples (a round trip is steady: spreads of a few per cent).
    double secs = o_.quick ? o_.sample_seconds / 2 : o_.sample_seconds;
    IsolatedRound x = isolated_round(*twinhsm_, *isolated_, n, secs, r % 2 == 1);
    for (auto [in, iso, q, add, a, b] :
         {std::tuple{&sign_in, &sign_iso, &sign_q, &sign_add, x.sign_in, x.sign_iso},
          std::tuple{&find_in, &find_iso, &find_q, &find_add, x.find_in, x.find_iso},
          std::tuple{&call_in, &call_iso, static_cast<Row*>(nullptr), &call_add, x.call_in,
                     x.call_iso}}) {
      in->samples[kTw].push_back(a);
      iso->samples[kTw].push_back(b);
      if (q) {
        q->samples[kTw].push_back(b / a);
      }
      add->samples[kTw].push_back(1e6 / b - 1e6 / a);
    }
  }
  RoundTrips t = count_round_trips(*isolated_, n);
  if (std::isnan(t.writes_per_call)) {
    sign_rt.na[kTw] = find_rt.na[kTw] = "no /proc/thread-self/io";
  } else {
    sign_rt.samples[kTw].push_back(t.sign);
    find_rt.samples[kTw].push_back(t.find);
    note("isolated mode: round trips counted as the client's write system calls per operation (" +
         format_value(t.writes_per_call) + " per C_GetAttributeValue, one call)");
  }
  isolated_.reset();
  iso_server_.reset();
}

// ---- report ----

double paired_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) {
    return std::nan("");
  }
  if (a.size() != b.size()) {
    return median(a) / median(b);
  }
  std::vector<double> r;
  for (size_t k = 0; k < a.size(); ++k) {
    r.push_back(a[k] / b[k]);
  }
  return median(r);
}

double ratio(const Row& row, const std::string& a, const std::string& b) {
  auto ia = row.samples.find(a), ib = row.samples.find(b);
  if (ia == row.samples.end() || ib == row.samples.end()) {
    return std::nan("");
  }
  return paired_ratio(ia->second, ib->second);
}

namespace {

std::string cell(const Row& row, const std::string& impl, bool present) {
  if (!present) {
    return "-";
  }
  auto it = row.samples.find(impl);
  if (it == row.samples.end() || it->second.empty()) {
    return "n/a";
  }
  return format_value(median(it->second));
}

std::string ratio_cell(const Row& row, const std::string& a, const std::string& b) {
  return format_ratio(ratio(row, a, b));
}

std::string spread_cell(const Row& row, const std::string& impl) {
  auto it = row.samples.find(impl);
  if (it == row.samples.end() || it->second.size() < 2) {
    return "";
  }
  auto [lo, hi] = std::minmax_element(it->second.begin(), it->second.end());
  double m = median(it->second);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", (*hi - *lo) / m * 100);
  return buf;
}

}  // namespace

void Bench::report() {
  bool have_tw = impl(kTw) != nullptr, have_soft = impl(kSoft) != nullptr,
       have_ossl = impl(kOssl) != nullptr;
  std::printf("\n");
  for (const auto& h : header_) {
    std::printf("%s\n", h.c_str());
  }
  if (!fsync_.empty()) {
    auto [lo, hi] = std::minmax_element(fsync_.begin(), fsync_.end());
    std::printf(
        "disk of the work directory: 4 KiB write + fdatasync %.2f ms median (%.2f-%.2f ms over %zu "
        "probes)\n",
        median(fsync_) * 1000, *lo * 1000, *hi * 1000, fsync_.size());
  }
  std::printf(
      "Medians of %d interleaved rounds. Ratios: twinhsm's figure / the other's, median of the\n"
      "per-round ratios (for /s figures above 1 is better for twinhsm; for ms, s and MiB below 1\n"
      "is). spread: (max-min)/median of twinhsm's samples.\n\n",
      o_.rounds);
  size_t w = 10;
  for (const Row& r : results_.rows()) {
    w = std::max(w, r.label.size());
  }
  std::printf("%-*s %-10s %12s %12s %12s %11s %11s %7s\n", static_cast<int>(w), "figure", "unit",
              "twinhsm", "SoftHSMv2", "OpenSSL", "tw/OpenSSL", "tw/SoftHSM", "spread");
  std::string section;
  for (const Row& r : results_.rows()) {
    if (r.section != section) {
      section = r.section;
      std::printf("%s\n",
                  ("-- " + section + " " + std::string(w + 76 - section.size(), '-')).c_str());
    }
    std::printf("%-*s %-10s %12s %12s %12s %11s %11s %7s\n", static_cast<int>(w), r.label.c_str(),
                r.unit.c_str(), cell(r, kTw, have_tw).c_str(), cell(r, kSoft, have_soft).c_str(),
                cell(r, kOssl, have_ossl).c_str(), ratio_cell(r, kTw, kOssl).c_str(),
                ratio_cell(r, kTw, kSoft).c_str(), spread_cell(r, kTw).c_str());
  }
  if (o_.verbose) {
    std::printf("\nsamples:\n");
    for (const Row& r : results_.rows()) {
      for (const auto& [impl_name, v] : r.samples) {
        std::printf("  %s | %s:", r.label.c_str(), impl_name.c_str());
        for (double x : v) {
          std::printf(" %s", format_value(x).c_str());
        }
        std::printf("\n");
      }
    }
  }
  if (!notes_.empty()) {
    std::printf("\nnotes:\n");
    for (const auto& n : notes_) {
      std::printf("  - %s\n", n.c_str());
    }
  }
}

int Bench::run() {
  setup();
  progress("checking every operation once against OpenSSL");
  sanity();
  if (group("login")) {
    bench_login();
  }
  if (group("crypto")) {
    bench_crypto();
  }
  if (group("threads")) {
    bench_threads();
  }
  size_t previous = 0;
  std::vector<size_t> sizes = o_.sizes;
  std::sort(sizes.begin(), sizes.end());
  for (size_t n : sizes) {
    if (group("objects")) {
      bench_objects(n, previous);
      previous = n;
    }
    if (group("isolated") && n == sizes.front()) {
      bench_isolated(n);
    }
    if (group("backup")) {
      if (twinhsm_ && twinhsm_->objects() < n) {
        // Backups need the objects even when the object figures are not wanted.
        progress("twinhsm: creating objects %zu..%zu for the backup", twinhsm_->objects(), n);
        twinhsm_->create_objects(twinhsm_->objects(), n);
      }
      bench_backup(n);
    }
  }
  if (group("processes")) {
    bench_processes();  // last: its objects would add to the N of the object figures
  }
  report();
  checks();
  std::printf("\ntotal run time %.0f s\n", seconds_since(g_start));
  return 0;
}

}  // namespace bench

// main is outside namespace bench, and uses the options, the parsing and Bench from it.
using namespace bench;

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--cold-start-child") == 0) {
    return cold_start_child(argc, argv);
  }
  if (argc >= 2 && std::strcmp(argv[1], "--measure-child") == 0) {
    return measure_child(argc, argv);
  }
  if (argc >= 2 && std::strcmp(argv[1], "--process-child") == 0) {
    return process_child(argc, argv);
  }
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      o.quick = true;
      o.rounds = 3;
      o.sample_seconds = 0.2;
      o.sizes = {1000};
    }
  }
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) {
          throw std::runtime_error(a + " needs a value");
        }
        return argv[++i];
      };
      if (a == "--quick") {
      } else if (a == "--sizes") {
        o.sizes = parse_sizes(value());
      } else if (a == "--softhsm-max-n") {
        o.softhsm_max_n = std::stoul(value());
      } else if (a == "--fill-processes") {
        o.fill_processes = static_cast<unsigned>(std::max(1UL, std::stoul(value())));
      } else if (a == "--fill-min") {
        o.fill_min = std::stoul(value());
      } else if (a == "--rounds") {
        o.rounds = std::max(1, std::stoi(value()));
      } else if (a == "--sample-seconds") {
        o.sample_seconds = std::stod(value());
      } else if (a == "--pbkdf2-iterations") {
        o.pbkdf2_iterations = static_cast<unsigned>(std::stoul(value()));
      } else if (a == "--only") {
        auto g = split(value(), ',');
        o.groups = std::set<std::string>(g.begin(), g.end());
      } else if (a == "--impls") {
        auto g = split(value(), ',');
        o.impls = std::set<std::string>(g.begin(), g.end());
      } else if (a == "--works") {
        auto g = split(value(), ',');
        o.works = std::set<std::string>(g.begin(), g.end());
      } else if (a == "--twinhsm-module") {
        o.twinhsm_module = value();
      } else if (a == "--twinhsm-cli") {
        o.twinhsm_cli = value();
      } else if (a == "--softhsm-module") {
        o.softhsm_module = value();
      } else if (a == "--isolated-provider") {
        o.isolated_provider = value();
      } else if (a == "--p11-kit-client") {
        o.p11_kit_client = value();
      } else if (a == "--softhsm-tokendir") {
        o.softhsm_tokendir = value();
      } else if (a == "--softhsm-on-disk") {
        o.softhsm_tokendir = "";
      } else if (a == "--workdir") {
        o.workdir = value();
      } else if (a == "--note") {
        o.notes.push_back(value());
      } else if (a == "--keep") {
        o.keep = true;
      } else if (a == "--verbose") {
        o.verbose = true;
      } else if (a == "-h" || a == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      } else {
        throw std::runtime_error("unknown option " + a);
      }
    }
    for (const auto& g : o.groups) {
      if (g != "login" && g != "crypto" && g != "threads" && g != "objects" && g != "backup" &&
          g != "processes" && g != "isolated") {
        throw std::runtime_error("unknown group " + g);
      }
    }
    for (const auto& g : o.impls) {
      if (g != "twinhsm" && g != "softhsm" && g != "openssl") {
        throw std::runtime_error("unknown implementation " + g);
      }
    }
    for (size_t n : o.sizes) {
      if (n == 0) {
        throw std::runtime_error("--sizes: sizes must be positive");
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pkcs11_bench: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    Bench b(o);
    return b.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pkcs11_bench: %s\n", e.what());
    return 1;
  }
}
