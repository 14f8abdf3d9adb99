#include "button/socket_button.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "button/detail.h"
#include "fs/owned_file.h"

namespace twinhsm::button {
namespace {

namespace fs = std::filesystem;
using detail::Clock;
using detail::errno_text;
using detail::Fd;

constexpr std::string_view kPressLine = "press";
constexpr std::string_view kOk = "ok\n";
constexpr std::string_view kDenied = "denied\n";
constexpr std::string_view kError = "error\n";
// A waiting device keeps at most this many connections open; a new one evicts the oldest, so
// that idle connections cannot keep a real press out.
constexpr size_t kMaxClients = 16;
// The longest line a client may send; "press\n" is 6 bytes.
constexpr size_t kMaxLine = 64;
// How long press() waits for the device's answer after sending "press\n".
constexpr int kReplyTimeoutMs = 30'000;

// socket_address fills a sockaddr_un for path, or throws UsageError if the path does not fit.
sockaddr_un socket_address(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& s = path.native();
  if (s.size() >= sizeof addr.sun_path) {
    throw UsageError("the button socket path " + s + " is longer than " +
                     std::to_string(sizeof addr.sun_path - 1) +
                     " bytes, the limit of a Unix socket; use a shorter device directory");
  }
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}

Fd new_socket(int flags) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0));
  if (!fd.valid()) {
    throw Error("cannot create a Unix socket for the button: " + errno_text(errno));
  }
  return fd;
}

// connect_to connects fd to addr and returns 0 or the errno of the failure.
int connect_to(const Fd& fd, const sockaddr_un& addr) {
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      return 0;
    }
    if (errno != EINTR) {
      return errno;
    }
  }
}

// open_socket_file holds the socket file at path without following a link (O_PATH), checked to
// be a socket whose owner is owner, root or this process: invalid when nothing is there. Throws
// UsageError for anything else planted in its place.
Fd open_socket_file(const fs::path& path, uid_t owner) {
  Fd file(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!file.valid()) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return file;
    }
    int err = errno;
    throw Error("cannot open the button socket " + path.string() + ": " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    throw UsageError(path.string() + " is not a socket (a link or file planted there?): remove it");
  }
  if (st.st_uid != owner && st.st_uid != 0 && st.st_uid != ::geteuid()) {
    throw UsageError(path.string() + " belongs to uid " + std::to_string(st.st_uid) +
                     ", not to the device's owner: remove it");
  }
  return file;
}

// connect_via connects fd to the socket file held by file, through /proc/self/fd/N: the name is
// not looked up again, so it cannot be swapped for a link meanwhile. Returns 0 or the errno.
int connect_via(const Fd& fd, const Fd& file) {
  sockaddr_un addr = socket_address("/proc/self/fd/" + std::to_string(file.get()));
  return connect_to(fd, addr);
}

// send_reply sends a one-line answer; a peer that has gone away is no error of ours.
void send_reply(const Fd& fd, std::string_view reply) {
  (void)::send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)::shutdown(fd.get(), SHUT_WR);
}

std::string already_waiting(const fs::path& dir) {
  return "another operation is already waiting for the button on " + dir.string() +
         "; press it or let it time out first";
}

// SocketFile removes the socket file this process bound when it goes out of scope, unless
// another process has replaced it since (same path, other inode).
class SocketFile {
 public:
  SocketFile() = default;
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  ~SocketFile() {
    if (!armed_) {
      return;
    }
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
      ::unlink(path_.c_str());
    }
  }

  // arm records the file just bound at path; it throws Error if it cannot be found.
  void arm(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      int err = errno;
      throw Error("cannot create the button socket " + path.string() + ": " + errno_text(err));
    }
    path_ = path;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    armed_ = true;
  }

 private:
  fs::path path_;
  bool armed_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

// Listener is DIR/button.sock, bound and listening, owned by this process. When it goes out of
// scope (also when its constructor throws half-way) the file is removed and the socket closed.
class Listener {
 public:
  Listener(const fs::path& dir, const fs::path& path) : path_(path) {
    sockaddr_un addr = socket_address(path_);
    remove_stale(dir, addr);

    fd_ = new_socket(SOCK_NONBLOCK);
    // Mode 0600 from the start: no chmod by name afterwards, which a link swapped in could
    // redirect.
    mode_t old_mask = ::umask(0177);
    int rc = ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    int err = errno;
    ::umask(old_mask);
    if (rc != 0) {
      if (err == EADDRINUSE) {
        throw UsageError(already_waiting(dir));
      }
      throw Error("cannot create the button socket " + path_.string() + ": " + errno_text(err));
    }
    file_.arm(path_);
    if (::listen(fd_.get(), 8) != 0) {
      err = errno;
      throw Error("cannot set up the button socket " + path_.string() + ": " + errno_text(err));
    }
  }

  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int fd() const { return fd_.get(); }

 private:
  // remove_stale removes a socket file that nothing listens on (left by a process that died),
  // and refuses if something does.
  void remove_stale(const fs::path& dir, const sockaddr_un& addr) {
    struct stat st {};
    if (::lstat(path_.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        return;
      }
      int err = errno;
      throw Error("cannot check " + path_.string() + ": " + errno_text(err));
    }
    if (!S_ISSOCK(st.st_mode)) {
      throw UsageError(path_.string() + " exists and is not a socket; remove it");
    }
    Fd file = open_socket_file(path_, twinhsm::fs::owner_of(dir).uid);
    if (!file.valid()) {
      return;
    }
    Fd probe = new_socket(0);
    int err = connect_via(probe, file);
    if (err == 0) {
      throw UsageError(already_waiting(dir));
    }
    if (err != ECONNREFUSED) {
      throw Error("cannot check the button socket " + path_.string() + ": " + errno_text(err));
    }
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      err = errno;
      throw Error("cannot remove the stale button socket " + path_.string() + ": " +
                  errno_text(err));
    }
  }

  fs::path path_;
  Fd fd_;
  SocketFile file_;  // declared after fd_: the file goes first, then the socket closes
};

struct Client {
  Fd fd;
  uid_t uid = static_cast<uid_t>(-1);
  bool has_uid = false;
  std::string line;
};

enum class Served { kPending, kClosed, kPressed };

// serve reads what a client sent and answers once it has a whole line.
Served serve(Client& client, uid_t owner) {
  char buf[kMaxLine];
  ssize_t n = ::read(client.fd.get(), buf, sizeof buf);
  if (n < 0) {
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? Served::kPending
                                                                       : Served::kClosed;
  }
  if (n == 0) {
    if (!client.line.empty()) {
      send_reply(client.fd, kError);
    }
    return Served::kClosed;
  }
  client.line.append(buf, static_cast<size_t>(n));
  auto newline = client.line.find('\n');
  if (newline == std::string::npos) {
    if (client.line.size() > kMaxLine) {
      send_reply(client.fd, kError);
      return Served::kClosed;
    }
    return Served::kPending;
  }
  if (std::string_view(client.line).substr(0, newline) != kPressLine) {
    send_reply(client.fd, kError);
    return Served::kClosed;
  }
  if (!client.has_uid || (client.uid != owner && client.uid != 0)) {
    send_reply(client.fd, kDenied);
    return Served::kClosed;
  }
  send_reply(client.fd, kOk);
  return Served::kPressed;
}

// accept_client takes one pending connection and records its peer's uid.
void accept_client(int listen_fd, std::vector<Client>& clients) {
  Fd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!fd.valid()) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED ||
        errno == EPROTO) {
      return;
    }
    int err = errno;
    throw Error("cannot accept a connection on the button socket: " + errno_text(err));
  }
  Client client;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred) {
    client.uid = cred.uid;
    client.has_uid = true;
  }
  client.fd = std::move(fd);
  if (clients.size() >= kMaxClients) {
    clients.erase(clients.begin());
  }
  clients.push_back(std::move(client));
}

}  // namespace

SocketButton::SocketButton(std::filesystem::path device_dir, std::ostream& out)
    : device_dir_(std::move(device_dir)), out_(out) {}

void SocketButton::wait(const Request& request) {
  Clock::time_point deadline = detail::deadline_for(request);
  struct stat dir_stat {};
  if (::stat(device_dir_.c_str(), &dir_stat) != 0) {
    int err = errno;
    throw UsageError("cannot use the device directory " + device_dir_.string() + ": " +
                     errno_text(err));
  }
  const uid_t owner = dir_stat.st_uid;

  Listener listener(device_dir_, device_dir_ / kSocketName);
  out_ << "Waiting for the button: " << detail::printable(request.action)
       << ". Run 'twinhsm button press --device " << detail::printable(device_dir_.string())
       << "' within " << request.timeout.count() << " s." << std::endl;

  std::vector<Client> clients;
  std::vector<pollfd> fds;
  for (;;) {
    int ms = detail::poll_timeout_ms(deadline);
    if (ms == 0) {
      throw detail::timeout_error(request);
    }
    fds.clear();
    fds.push_back({listener.fd(), POLLIN, 0});
    for (const Client& c : clients) {
      fds.push_back({c.fd.get(), POLLIN, 0});
    }
    int n = ::poll(fds.data(), fds.size(), ms);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      throw Error("cannot wait on the button socket: " + errno_text(err));
    }
    // Clients first, from the back, so that erasing keeps fds[i + 1] matched with clients[i].
    for (size_t i = clients.size(); i-- > 0;) {
      if (fds[i + 1].revents == 0) {
        continue;
      }
      Served s = serve(clients[i], owner);
      if (s == Served::kPressed) {
        return;
      }
      if (s == Served::kClosed) {
        clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    if (fds[0].revents & POLLIN) {
      accept_client(listener.fd(), clients);
    }
  }
}

void press(const std::filesystem::path& device_dir) {
  const fs::path path = device_dir / kSocketName;
  socket_address(path);  // a path too long for a socket is refused as when waiting
  Fd file = open_socket_file(path, twinhsm::fs::owner_of(device_dir).uid);
  Fd fd = new_socket(0);
  int err = file.valid() ? connect_via(fd, file) : ENOENT;
  if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
    throw UsageError("nothing is waiting for a button press on " + device_dir.string());
  }
  if (err == EACCES || err == EPERM) {
    throw UsageError("cannot press the button of " + device_dir.string() + ": " + errno_text(err) +
                     "; only the device directory's owner may press it");
  }
  if (err != 0) {
    throw Error("cannot connect to " + path.string() + ": " + errno_text(err));
  }

  const std::string request = std::string(kPressLine) + "\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    err = errno;
    throw Error("the operation waiting on " + device_dir.string() +
                " ended before it took the press (" + errno_text(err) + ")");
  }

  std::string reply;
  Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
  while (reply.find('\n') == std::string::npos && reply.size() < kMaxLine) {
    int ms = detail::poll_timeout_ms(deadline);
    pollfd pfd{fd.get(), POLLIN, 0};
    int n = ms == 0 ? 0 : ::poll(&pfd, 1, ms);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw Error("the device in " + device_dir.string() + " did not answer the press");
    }
    char buf[kMaxLine];
    ssize_t got = ::read(fd.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    reply.append(buf, static_cast<size_t>(got));
  }

  if (reply == kOk) {
    return;
  }
  if (reply == kDenied) {
    throw UsageError("the device in " + device_dir.string() +
                     " refused the press: only the device directory's owner or root may press "
                     "its button");
  }
  if (reply.empty()) {
    throw Error("the operation waiting on " + device_dir.string() +
                " ended before it took the press");
  }
  throw Error("the device in " + device_dir.string() + " did not accept the press (it answered '" +
              detail::printable(reply.substr(0, reply.find('\n'))) + "')");
}

}  // namespace twinhsm::button
