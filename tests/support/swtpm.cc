#include "swtpm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

namespace twinhsm::test {

namespace {

constexpr const char* kSwtpm = "/usr/bin/swtpm";

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// can_bind tells whether a server can listen on port of the loopback address (as swtpm does,
// with SO_REUSEADDR: closed connections of earlier tests in TIME_WAIT do not count).
bool can_bind(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  sockaddr_in a = loopback(port);
  bool ok = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  return ok;
}

// free_port_pair returns P such that P and P + 1 are free now (the kernel picks P).
uint16_t free_port_pair() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (fd >= 0) {
        ::close(fd);
      }
      continue;
    }
    ::close(fd);
    uint16_t port = ntohs(a.sin_port);
    if (port < 65535 && can_bind(port) && can_bind(static_cast<uint16_t>(port + 1))) {
      return port;
    }
  }
  throw std::runtime_error("no free pair of loopback ports for swtpm");
}

bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(port);
  bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  return ok;
}

}  // namespace

Swtpm::Swtpm(std::filesystem::path state_dir) : state_dir_(std::move(state_dir)) {
  if (state_dir_.empty()) {
    owned_dir_ = std::make_unique<TempDir>();
    state_dir_ = owned_dir_->path();
  }
  start();
}

Swtpm::~Swtpm() {
  stop();
}

std::string Swtpm::tcti() const {
  return "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
}

void Swtpm::start() {
  if (running()) {
    return;
  }
  std::string last_error = "swtpm did not start";
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port_pair();
    std::vector<std::string> args = {
        kSwtpm,
        "socket",
        "--tpm2",
        "--server",
        "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1",
        "--ctrl",
        "type=tcp,port=" + std::to_string(port_ + 1) + ",bindaddr=127.0.0.1",
        "--tpmstate",
        "dir=" + state_dir_.string(),
        "--flags",
        "not-need-init,startup-clear"};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    std::string log_path = (state_dir_ / "swtpm.log").string();
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      // Killed with the test process, even by a SIGKILL (a ctest timeout).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) {
        ::_exit(1);
      }
      // Its messages ("Data client disconnected" at every killed client) go to its state dir.
      int devnull = ::open("/dev/null", O_RDWR);
      int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(log >= 0 ? log : devnull, 2);
      ::execv(kSwtpm, argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // exited: most likely a port taken meanwhile; try others
        last_error = "swtpm exited at start (status " + std::to_string(status) + ")";
        break;
      }
      if (accepts(port_)) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0) {
      stop();
      last_error = "swtpm did not accept connections within 10 s";
    }
  }
  throw std::runtime_error(last_error + " (is the swtpm package installed?)");
}

void Swtpm::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

}  // namespace twinhsm::test
