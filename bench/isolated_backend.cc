#include "isolated_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace bench {

namespace {

std::atomic<pid_t> g_server_group{-1};

bool reap(pid_t pid, double seconds) {
  auto t0 = Clock::now();
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      return true;
    }
    if (seconds_since(t0) > seconds) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The write system calls of the calling thread so far (-1 when /proc does not count them).
long thread_writes() {
  std::ifstream in("/proc/thread-self/io");
  std::string key;
  long value = 0;
  while (in >> key >> value) {
    if (key == "syscw:") {
      return value;
    }
  }
  return -1;
}

// writes_per_op runs op a number of times on this thread and returns the write system calls per
// run (NaN when /proc does not count them).
double writes_per_op(const Op& op) {
  constexpr int kRuns = 500;
  op.run();  // warm-up
  long w0 = thread_writes();
  for (int k = 0; k < kRuns; ++k) {
    op.run();
  }
  long w1 = thread_writes();
  return w0 < 0 || w1 < 0 ? std::nan("") : static_cast<double>(w1 - w0) / kRuns;
}

}  // namespace

std::string p11_kit_client_path() {
  std::vector<std::string> dirs;
  if (access("/usr/bin/dpkg-architecture", X_OK) == 0) {
    ChildResult r = run_process({"/usr/bin/dpkg-architecture", "-qDEB_HOST_MULTIARCH"}, false);
    std::string arch = r.out.substr(0, r.out.find('\n'));
    if (r.exit_code == 0 && !arch.empty()) {
      dirs.push_back("/usr/lib/" + arch + "/pkcs11");
    }
  }
  dirs.insert(dirs.end(),
              {"/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib64/pkcs11", "/usr/lib/pkcs11"});
  for (const auto& d : dirs) {
    std::string p = d + "/p11-kit-client.so";
    if (access(p.c_str(), R_OK) == 0) {
      return p;
    }
  }
  return "";
}

IsolatedServer::IsolatedServer(const std::string& module, const std::string& token_label,
                               const std::filesystem::path& socket)
    : socket_(socket) {
  std::filesystem::remove(socket_);
  std::vector<std::string> args = {
      "p11-kit",        "server",     "--foreground", "--name",
      socket_.string(), "--provider", module,         "pkcs11:token=" + token_label};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
      _exit(1);
    }
    // The server prints its address on stdout, which is the benchmark's table.
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, STDOUT_FILENO);
      close(null);
    }
    umask(077);
    execvp("p11-kit", argv.data());
    _exit(127);
  }
  setpgid(pid, pid);
  pid_ = pid;
  g_server_group = pid;
  auto t0 = Clock::now();
  while (!std::filesystem::exists(socket_)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid_ = -1;
      g_server_group = -1;
      throw std::runtime_error("p11-kit server exited (status " + std::to_string(status) +
                               ") before its socket appeared");
    }
    if (seconds_since(t0) > 10) {
      stop();
      throw std::runtime_error("p11-kit server: no socket " + socket_.string() + " after 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  setenv("P11_KIT_SERVER_ADDRESS", ("unix:path=" + socket_.string()).c_str(), 1);
}

IsolatedServer::~IsolatedServer() {
  stop();
  unsetenv("P11_KIT_SERVER_ADDRESS");
}

void IsolatedServer::stop() {
  if (pid_ <= 0) {
    return;
  }
  // The whole group: the server and the process it forked for a connection still open.
  kill(-pid_, SIGTERM);
  if (!reap(pid_, 5)) {
    kill(-pid_, SIGKILL);
    reap(pid_, 5);
  }
  g_server_group = -1;
  pid_ = -1;
  std::error_code ec;
  std::filesystem::remove(socket_, ec);
}

void stop_isolated_server_from_signal() {
  pid_t g = g_server_group.load();
  if (g <= 0) {
    return;
  }
  // Only async-signal-safe calls: kill, waitpid, nanosleep. The server is reaped here, else it
  // would stay a zombie of this dying process.
  kill(-g, SIGTERM);
  for (int k = 0; k < 200; ++k) {
    if (waitpid(g, nullptr, WNOHANG) != 0) {
      return;
    }
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    nanosleep(&ten_ms, nullptr);
  }
  kill(-g, SIGKILL);
  waitpid(g, nullptr, 0);
}

IsolatedRound isolated_round(P11Backend& in_process, P11Backend& isolated, size_t n, double seconds,
                             bool isolated_first) {
  IsolatedRound r;
  auto both = [&](const std::function<Op(P11Backend&)>& make, double& in, double& iso) {
    auto one = [&](P11Backend& b) {
      Op op = make(b);
      return rate({op.run}, seconds);
    };
    if (isolated_first) {
      iso = one(isolated);
      in = one(in_process);
    } else {
      in = one(in_process);
      iso = one(isolated);
    }
  };
  both([](P11Backend& b) { return b.make_op(Work::ecdsa_p256_sign); }, r.sign_in, r.sign_iso);
  both([n](P11Backend& b) { return b.find_op(FindBy::label, true, n); }, r.find_in, r.find_iso);
  both([](P11Backend& b) { return b.make_op(Work::get_label); }, r.call_in, r.call_iso);
  return r;
}

RoundTrips count_round_trips(P11Backend& isolated, size_t n) {
  RoundTrips t;
  t.writes_per_call = writes_per_op(isolated.make_op(Work::get_label));
  t.sign = writes_per_op(isolated.make_op(Work::ecdsa_p256_sign)) / t.writes_per_call;
  t.find = writes_per_op(isolated.find_op(FindBy::label, true, n)) / t.writes_per_call;
  return t;
}

}  // namespace bench
