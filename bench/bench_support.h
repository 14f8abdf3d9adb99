// Small helpers for pkcs11_bench: timing, medians, child processes (time and peak memory through
// wait4), and a temporary directory removed on destruction.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

using Bytes = std::vector<unsigned char>;
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// median of the values (NaN for none).
double median(std::vector<double> v);

// Runs op repeatedly on each of ops.size() threads (thread i calls ops[i]) for about seconds
// wall time (at least min_ops calls per thread), after one untimed warm-up call per thread, and
// returns the total number of calls per second. An exception in any thread is rethrown.
// cores (if given) receives the CPU time the threads used divided by the wall time: below the
// number of threads when they waited (for a lock, for I/O, or for a CPU the machine's other
// work held).
double rate(const std::vector<std::function<void()>>& ops, double seconds, long min_ops = 1,
            double* cores = nullptr);

// fsync_probe writes 4 KiB to a file in dir and fdatasyncs it; returns the seconds that took
// (the disk's durable-write latency, which twinhsm's login and object creation pay).
double fsync_probe(const std::filesystem::path& dir);
// directory_size is the size of every regular file under dir, in bytes.
uintmax_t directory_size(const std::filesystem::path& dir);

// Times one call of fn, in seconds.
double time_once(const std::function<void()>& fn);

// Wall and CPU time (of the calling thread) of one call of fn, in seconds. CPU time leaves out
// what the machine's other work takes from a busy CPU and the waits for the disk.
struct Timing {
  double wall = 0;
  double cpu = 0;
};
Timing time_both(const std::function<void()>& fn);
double thread_cpu_seconds();

struct ChildResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  double seconds = 0;  // wall time from fork to wait4
  long max_rss_kib = 0;
  std::string out;  // stdout (and stderr when merged)
};

// run_process forks and execs argv[0] (a path) with the current environment, collects its stdout
// (merged with stderr when merge_stderr; otherwise stderr is inherited) and waits with wait4.
ChildResult run_process(const std::vector<std::string>& argv, bool merge_stderr);

// run_checked is run_process that throws with the output when the exit code is not 0.
ChildResult run_checked(const std::vector<std::string>& argv);

// write_file replaces p's contents with text; throws when it cannot.
void write_file(const std::filesystem::path& p, const std::string& text);

class TempDir {
 public:
  // Makes <base>/<prefix>XXXXXX (base: $TMPDIR, else /tmp, unless given).
  explicit TempDir(const std::string& prefix, const std::filesystem::path& base = {});
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

// Formats a figure with 3-4 significant digits (thousands separated by ',').
std::string format_value(double v);
// Formats a ratio as "0.93x", "12.3x", "1,234x".
std::string format_ratio(double r);

std::vector<std::string> split(const std::string& s, char sep);

}  // namespace bench
