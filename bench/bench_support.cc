#include "bench_support.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <system_error>
#include <thread>

extern char** environ;

namespace bench {

double median(std::vector<double> v) {
  if (v.empty()) {
    return std::nan("");
  }
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double rate(const std::vector<std::function<void()>>& ops, double seconds, long min_ops,
            double* cores) {
  size_t n = ops.size();
  for (const auto& op : ops) {
    op();  // warm-up: first use of a key, caches, lazy initialization
  }
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<long> counts(n, 0);
  std::vector<double> ends(n, 0), cpu(n, 0);
  std::exception_ptr error;
  std::mutex error_mutex;
  Clock::time_point t0;
  auto body = [&](size_t i) {
    try {
      long c = 0;
      double elapsed = 0;
      double cpu0 = thread_cpu_seconds();
      do {
        ops[i]();
        ++c;
        elapsed = seconds_since(t0);
      } while (elapsed < seconds || c < min_ops);
      counts[i] = c;
      ends[i] = elapsed;
      cpu[i] = thread_cpu_seconds() - cpu0;
    } catch (...) {
      std::lock_guard lock(error_mutex);
      error = std::current_exception();
    }
  };
  if (n == 1) {
    t0 = Clock::now();
    body(0);
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (!go.load()) {
        }
        body(i);
      });
    }
    while (ready.load() < static_cast<int>(n)) {
      std::this_thread::yield();
    }
    t0 = Clock::now();
    go = true;
    for (auto& t : threads) {
      t.join();
    }
  }
  if (error) {
    std::rethrow_exception(error);
  }
  // Each thread's own rate, summed: a thread that finished its last call late does not dilute
  // the others.
  double total = 0, used = 0;
  for (size_t i = 0; i < n; ++i) {
    total += static_cast<double>(counts[i]) / ends[i];
    used += cpu[i] / ends[i];
  }
  if (cores) {
    *cores = used;
  }
  return total;
}

double fsync_probe(const std::filesystem::path& dir) {
  auto path = dir / "fsync-probe";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "open " + path.string());
  }
  std::vector<char> block(4096, 'x');
  auto t0 = Clock::now();
  bool ok = write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size()) &&
            fdatasync(fd) == 0;
  double s = seconds_since(t0);
  close(fd);
  unlink(path.c_str());
  if (!ok) {
    throw std::system_error(errno, std::generic_category(), "write/fdatasync " + path.string());
  }
  return s;
}

uintmax_t directory_size(const std::filesystem::path& dir) {
  uintmax_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      total += e.file_size();
    }
  }
  return total;
}

double time_once(const std::function<void()>& fn) {
  auto t0 = Clock::now();
  fn();
  return seconds_since(t0);
}

Timing time_both(const std::function<void()>& fn) {
  double c0 = thread_cpu_seconds();
  auto t0 = Clock::now();
  fn();
  Timing t;
  t.wall = seconds_since(t0);
  t.cpu = thread_cpu_seconds() - c0;
  return t;
}

ChildResult run_process(const std::vector<std::string>& argv, bool merge_stderr) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe");
  }
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  std::fflush(nullptr);
  auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(fds[1], 1);
    if (merge_stderr) {
      dup2(fds[1], 2);
    }
    execve(args[0], args.data(), environ);
    std::fprintf(stderr, "exec %s failed\n", args[0]);
    _exit(127);
  }
  close(fds[1]);
  ChildResult r;
  char buf[4096];
  for (;;) {
    ssize_t k = read(fds[0], buf, sizeof buf);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    if (k <= 0) {
      break;
    }
    r.out.append(buf, static_cast<size_t>(k));
  }
  close(fds[0]);
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  r.seconds = seconds_since(t0);
  r.max_rss_kib = usage.ru_maxrss;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
  if (!out) {
    throw std::runtime_error("cannot write " + p.string());
  }
}

ChildResult run_checked(const std::vector<std::string>& argv) {
  ChildResult r = run_process(argv, true);
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) {
      cmd += (cmd.empty() ? "" : " ") + a;
    }
    throw std::runtime_error(cmd + ": exit " + std::to_string(r.exit_code) + ": " + r.out);
  }
  return r;
}

TempDir::TempDir(const std::string& prefix, const std::filesystem::path& base) {
  std::filesystem::path b = base;
  if (b.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    b = tmp && *tmp ? tmp : "/tmp";
  }
  std::string pattern = (b / (prefix + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (!keep_) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

namespace {

std::string with_commas(long long v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  int k = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (k > 0 && k % 3 == 0) {
      out.insert(out.begin(), ',');
    }
    out.insert(out.begin(), *it);
    ++k;
  }
  return (v < 0 ? "-" : "") + out;
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v)) {
    return "n/a";
  }
  char buf[64];
  double a = std::fabs(v);
  if (a >= 1000) {
    return with_commas(std::llround(v));
  }
  if (a >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (a >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else if (a >= 1) {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3f", v);
  }
  return buf;
}

std::string format_ratio(double r) {
  if (std::isnan(r) || std::isinf(r)) {
    return "n/a";
  }
  return format_value(r) + "x";
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    std::string part = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!part.empty()) {
      out.push_back(part);
    }
    if (end == std::string::npos) {
      return out;
    }
    start = end + 1;
  }
}

}  // namespace bench
