#include "bench_processes.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "bench_backends.h"

extern char** environ;

namespace bench {

namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void sleep_until(int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// The worker's side: one session, logged in, the EC key found.
class Worker {
 public:
  Worker(const std::string& module, CK_SLOT_ID slot, const std::string& pin, std::string prefix)
      : module_(module), prefix_(std::move(prefix)), message_(kMessageSize, 0x5a) {
    CK_FUNCTION_LIST* f = module_.f();
    initialize(f);
    check(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s_),
          "C_OpenSession");
    CK_RV rv = f->C_Login(s_, CKU_USER, (CK_UTF8CHAR_PTR)pin.data(), pin.size());
    if (rv != CKR_USER_ALREADY_LOGGED_IN) {
      check(rv, "C_Login");
    }
    std::string label = "bench-ec";
    CK_ATTRIBUTE a{CKA_LABEL, label.data(), label.size()};
    CK_ULONG count = 0;
    check(f->C_FindObjectsInit(s_, &a, 1), "C_FindObjectsInit");
    rv = f->C_FindObjects(s_, &ec_, 1, &count);
    f->C_FindObjectsFinal(s_);
    check(rv, "C_FindObjects");
    if (count != 1) {
      throw std::runtime_error("the key bench-ec is not there");
    }
    CK_MECHANISM_INFO info{};
    prehash_ = f->C_GetMechanismInfo(slot, CKM_ECDSA_SHA256, &info) != CKR_OK;
  }
  ~Worker() {
    module_.f()->C_CloseSession(s_);
    module_.f()->C_Finalize(nullptr);
  }

  void sign() {
    CK_FUNCTION_LIST* f = module_.f();
    unsigned char hash[32];
    CK_BYTE_PTR in = message_.data();
    CK_ULONG in_len = message_.size();
    CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
    if (prehash_) {  // SoftHSMv2 2.6: SHA-256 here + CKM_ECDSA, as in the crypto figures
      unsigned int hash_len = 0;
      EVP_Digest(message_.data(), message_.size(), hash, &hash_len, EVP_sha256(), nullptr);
      in = hash;
      in_len = hash_len;
      m.mechanism = CKM_ECDSA;
    }
    check(f->C_SignInit(s_, &m, ec_), "C_SignInit");
    unsigned char sig[128];
    CK_ULONG len = sizeof sig;
    check(f->C_Sign(s_, in, in_len, sig, &len), "C_Sign");
  }

  void create() {
    char label[64];
    std::snprintf(label, sizeof label, "%s%07llu", prefix_.c_str(),
                  static_cast<unsigned long long>(created_));
    unsigned char value[32];
    RAND_bytes(value, sizeof value);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL yes = CK_TRUE;
    std::string id = kProcessObjectId;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},     {CKA_KEY_TYPE, &type, sizeof type},
                        {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &yes, sizeof yes},
                        {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_LABEL, label, std::strlen(label)},
                        {CKA_ID, id.data(), id.size()},    {CKA_VALUE, value, sizeof value}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    check(module_.f()->C_CreateObject(s_, t, sizeof t / sizeof t[0], &h), "C_CreateObject");
    ++created_;
  }
  uint64_t created() const { return created_; }

  // fill creates the bulk objects [from, to) as P11Backend::create_objects does (or
  // create_public_objects).
  void fill(size_t from, size_t to, bool private_objects) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL yes = CK_TRUE, priv = private_objects ? CK_TRUE : CK_FALSE;
    for (size_t i = from; i < to; ++i) {
      std::string label = private_objects ? object_label(i) : public_label(i);
      std::string id = private_objects ? object_id(i) : public_id(i);
      unsigned char value[32];
      RAND_bytes(value, sizeof value);
      CK_ATTRIBUTE t[] = {
          {CKA_CLASS, &cls, sizeof cls},     {CKA_KEY_TYPE, &type, sizeof type},
          {CKA_TOKEN, &yes, sizeof yes},     {CKA_PRIVATE, &priv, sizeof priv},
          {CKA_SENSITIVE, &yes, sizeof yes}, {CKA_LABEL, label.data(), label.size()},
          {CKA_ID, id.data(), id.size()},    {CKA_VALUE, value, sizeof value}};
      CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
      check(module_.f()->C_CreateObject(s_, t, sizeof t / sizeof t[0], &h), "C_CreateObject");
    }
  }

 private:
  Module module_;
  std::string prefix_;
  Bytes message_;
  CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE ec_ = CK_INVALID_HANDLE;
  bool prehash_ = false;
  uint64_t created_ = 0;
};

}  // namespace

int process_child(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: pkcs11_bench --process-child MODULE SLOT PIN PREFIX\n");
    return 2;
  }
  try {
    Worker w(argv[2], std::strtoul(argv[3], nullptr, 10), argv[4], argv[5]);
    std::printf("ready\n");
    std::fflush(stdout);
    char line[256];
    while (std::fgets(line, sizeof line, stdin)) {
      char work[32] = {};
      long long start = 0, end = 0;
      char kind[16] = {};
      if (std::sscanf(line, "fill %lld %lld %15s", &start, &end, kind) == 3) {
        w.fill(static_cast<size_t>(start), static_cast<size_t>(end),
               std::strcmp(kind, "private") == 0);
        std::printf("filled %lld\n", end - start);
        std::fflush(stdout);
        continue;
      }
      if (std::sscanf(line, "%31s %lld %lld", work, &start, &end) != 3) {
        break;  // quit, or the benchmark went away
      }
      bool sign = std::strcmp(work, "sign") == 0;
      sleep_until(start);
      double cpu0 = process_cpu_seconds();
      uint64_t ops = 0;
      while (monotonic_ns() < end) {
        sign ? w.sign() : w.create();
        if (monotonic_ns() <= end) {
          ++ops;
        }
      }
      std::printf("done %llu %llu %.9f\n", static_cast<unsigned long long>(ops),
                  static_cast<unsigned long long>(w.created()), process_cpu_seconds() - cpu0);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    std::fflush(stdout);
    return 1;
  }
}

Workers::Workers(const std::string& exe, const std::string& module, unsigned long slot,
                 const std::string& pin, const std::vector<std::string>& prefixes) {
  std::fflush(nullptr);
  for (const std::string& prefix : prefixes) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe");
    }
    std::vector<std::string> args = {exe,   "--process-child", module, std::to_string(slot), pin,
                                     prefix};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
      throw std::system_error(errno, std::generic_category(), "fork");
    }
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      execve(argv[0], argv.data(), environ);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    children_.push_back(Child{pid, in[1], out[0], "", 0});
  }
  for (Child& c : children_) {
    std::string line = read_line(c);
    if (line != "ready") {
      throw std::runtime_error("a worker process did not start: " + line);
    }
  }
}

Workers::~Workers() {
  for (Child& c : children_) {
    if (c.to >= 0) {
      ssize_t ignored = write(c.to, "quit\n", 5);
      (void)ignored;
      close(c.to);
    }
  }
  for (Child& c : children_) {
    int status = 0;
    while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(c.from);
  }
}

std::string Workers::read_line(Child& c) {
  for (;;) {
    if (auto nl = c.buffered.find('\n'); nl != std::string::npos) {
      std::string line = c.buffered.substr(0, nl);
      c.buffered.erase(0, nl + 1);
      return line;
    }
    char buf[512];
    ssize_t k = read(c.from, buf, sizeof buf);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    if (k <= 0) {
      return "(the worker process ended) " + c.buffered;
    }
    c.buffered.append(buf, static_cast<size_t>(k));
  }
}

void Workers::send(Child& c, const std::string& line) {
  if (write(c.to, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    throw std::runtime_error("cannot write to a worker process");
  }
}

Workers::Result Workers::run(const std::string& work, const std::vector<size_t>& which,
                             double seconds) {
  // Far enough ahead for every worker to be waiting when the window opens.
  int64_t start = monotonic_ns() + 20000000;
  int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  std::string order = work + " " + std::to_string(start) + " " + std::to_string(end) + "\n";
  for (size_t i : which) {
    send(children_.at(i), order);
  }
  Result r;
  double cpu = 0;
  for (size_t i : which) {
    std::string line = read_line(children_[i]);
    unsigned long long ops = 0, created = 0;
    double used = 0;
    if (std::sscanf(line.c_str(), "done %llu %llu %lf", &ops, &created, &used) != 3) {
      throw std::runtime_error("worker process: " + line);
    }
    children_[i].created = created;
    r.rates.push_back(static_cast<double>(ops) / seconds);
    cpu += used;
  }
  r.cores = cpu / seconds;
  return r;
}

void Workers::fill(size_t from, size_t to, bool private_objects) {
  size_t n = children_.size();
  for (size_t i = 0; i < n; ++i) {
    size_t a = from + (to - from) * i / n, b = from + (to - from) * (i + 1) / n;
    send(children_[i], "fill " + std::to_string(a) + " " + std::to_string(b) +
                           (private_objects ? " private\n" : " public\n"));
  }
  for (Child& c : children_) {
    std::string line = read_line(c);
    if (line.rfind("filled ", 0) != 0) {
      throw std::runtime_error("worker process: " + line);
    }
  }
}

uint64_t Workers::created() const {
  uint64_t n = 0;
  for (const Child& c : children_) {
    n += c.created;
  }
  return n;
}

}  // namespace bench
