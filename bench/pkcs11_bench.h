// What pkcs11_bench's files share: the options, the table of results (Row, Results), the
// implementations under test (Impl) and the Bench class. Its groups are defined in
// pkcs11_bench.cc (setup, login, crypto, threads, processes, isolated, the table),
// bench_objects.cc (the object and backup figures) and bench_checks.cc (the "Done when" lines).
// Options' defaults are TWINHSM_MODULE_PATH and TWINHSM_CLI_PATH, which bench/CMakeLists.txt
// defines for pkcs11_bench's sources only.
#pragma once

#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench_backends.h"
#include "bench_support.h"
#include "isolated_backend.h"

namespace bench {

struct Options {
  std::vector<size_t> sizes{1000, 10000};
  size_t softhsm_max_n = 10000;
  // Chunks of creation of at least fill_min objects are made by fill_processes worker
  // processes at once (Workers::fill); smaller ones by the benchmark's own session.
  unsigned fill_processes = 4;
  size_t fill_min = 200000;
  int rounds = 5;
  double sample_seconds = 0.25;
  unsigned pbkdf2_iterations = 600000;
  bool quick = false;
  std::set<std::string> groups{"login",  "crypto",    "threads", "objects",
                               "backup", "processes", "isolated"};
  std::set<std::string> impls{"twinhsm", "softhsm", "openssl"};
  std::set<std::string> works{"rsa",  "ecdsa",  "ed25519", "gcm",    "cbc",
                              "hmac", "sha256", "getattr", "session"};
  std::string twinhsm_module = TWINHSM_MODULE_PATH;
  std::string twinhsm_cli = TWINHSM_CLI_PATH;
  std::string softhsm_module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string p11_kit_client;     // "": found by p11_kit_client_path()
  std::string isolated_provider;  // "": twinhsm_module
  std::string workdir;
  std::string softhsm_tokendir = "auto";
  bool keep = false;
  bool verbose = false;
  std::vector<std::string> notes;
};

inline const std::string kTw = "twinhsm";
inline const std::string kSoft = "SoftHSMv2";
inline const std::string kOssl = "OpenSSL";

// progress prints a line to stderr, after the seconds since the run started.
void progress(const char* fmt, ...);

// n_str writes n with thousands separators (10,000), as the table's labels do.
std::string n_str(size_t n);

// ---- results ----

struct Row {
  std::string section;
  std::string label;
  std::string unit;
  bool higher_better = true;
  std::map<std::string, std::vector<double>> samples;
  std::map<std::string, std::string> na;  // implementation -> why there is no figure
  double value(const std::string& impl) const {
    auto it = samples.find(impl);
    return it == samples.end() ? std::nan("") : median(it->second);
  }
};

class Results {
 public:
  Row& row(const std::string& key, const std::string& section, const std::string& label,
           const std::string& unit, bool higher_better) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      return rows_[it->second];
    }
    index_[key] = rows_.size();
    rows_.push_back(Row{section, label, unit, higher_better, {}, {}});
    return rows_.back();
  }
  Row* find(const std::string& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &rows_[it->second];
  }
  double value(const std::string& key, const std::string& impl) {
    Row* r = find(key);
    return r ? r->value(impl) : std::nan("");
  }
  const std::deque<Row>& rows() const { return rows_; }

 private:
  std::deque<Row> rows_;  // references stay valid as rows are added
  std::map<std::string, size_t> index_;
};

// paired_ratio is the median of the per-round ratios a[k]/b[k] (samples of one round were taken
// together), or the ratio of the medians when the rounds do not pair up; ratio is that of the
// row's samples of implementations a and b.
double paired_ratio(const std::vector<double>& a, const std::vector<double>& b);
double ratio(const Row& row, const std::string& a, const std::string& b);

// ---- implementations ----

struct Impl {
  std::string name;
  Backend* backend = nullptr;
  P11Backend* p11 = nullptr;  // nullptr for OpenSSL
};

// order gives the implementations in round-robin order for round r.
inline std::vector<Impl*> order(std::vector<Impl>& impls, int r) {
  std::vector<Impl*> out;
  for (size_t i = 0; i < impls.size(); ++i) {
    out.push_back(&impls[(i + static_cast<size_t>(r)) % impls.size()]);
  }
  return out;
}

// named runs fn and prefixes the implementation's name to any error.
template <class Fn>
auto named(const Impl& i, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    throw std::runtime_error(i.name + ": " + e.what());
  }
}

// ---- hidden modes and child processes ----

// cold_start_child is the hidden mode --cold-start-child (bench_objects.cc).
int cold_start_child(int argc, char** argv);

// run_measured runs argv through measure_child: its wall time and its own peak memory.
ChildResult run_measured(const std::vector<std::string>& argv, const std::filesystem::path& log);

// ---- the benchmark ----

// Bench is one run: setup, then the groups asked for, each adding rows to results_, then the
// table and the checks.
class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}
  int run();

 private:
  void setup();
  void sanity();
  void bench_login();
  void bench_crypto();
  void bench_threads();
  void bench_objects(size_t n, size_t previous);
  // reference_1000 is a second twinhsm device holding 1,000 private and 1,000 public bulk
  // objects, made on first use: the finds among N are timed beside finds among it, round by
  // round, so that their ratio does not depend on how busy the machine was minutes apart.
  P11Backend& reference_1000();
  double create_chunk(Impl& impl, size_t from, size_t to, bool private_objects);
  void bench_backup(size_t n);
  void bench_processes();
  void bench_isolated(size_t n);
  void report();
  void checks();
  void million_checks(size_t n, size_t backup_n, size_t backup_small);
  void note(const std::string& s) {
    if (std::find(notes_.begin(), notes_.end(), s) == notes_.end()) {
      notes_.push_back(s);
    }
  }
  bool group(const char* g) const { return o_.groups.count(g) != 0; }
  // probe_disk times a durable 4 KiB write in the work directory (twinhsm's fsync cost now).
  void probe_disk() { fsync_.push_back(fsync_probe(root_->path())); }
  Impl* impl(const std::string& name) {
    for (auto& i : impls_) {
      if (i.name == name) {
        return &i;
      }
    }
    return nullptr;
  }
  // supported says whether impl can do w (probed once in sanity()).
  bool supported(const Impl& i, Work w) const { return !na_.count({i.name, w}); }

  Options o_;
  std::unique_ptr<TempDir> root_;
  std::unique_ptr<TempDir> softhsm_dir_;
  std::vector<double> fsync_;  // disk probes over the run (probe_disk)
  std::unique_ptr<TestData> data_;
  std::unique_ptr<OpenSslBackend> openssl_;
  std::unique_ptr<P11Backend> twinhsm_, softhsm_;
  std::unique_ptr<P11Backend> twinhsm_1000_;  // reference_1000()
  // The isolated group's server and client (the client goes first).
  std::unique_ptr<IsolatedServer> iso_server_;
  std::unique_ptr<P11Backend> isolated_;
  std::vector<Impl> impls_;
  std::map<std::pair<std::string, Work>, std::string> na_;
  Results results_;
  std::vector<std::string> notes_;
  std::vector<std::string> header_;
  // Each token's directory (store size per object), and the secret keys it held before the bulk
  // objects (its own keys: every other one found is a bulk object).
  std::map<std::string, std::filesystem::path> store_dirs_;
  std::map<std::string, size_t> own_keys_;
};

}  // namespace bench
