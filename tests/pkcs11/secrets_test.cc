// Secrets in memory: the process is undumpable while a role is logged in, and after C_Logout no
// copy of a key value or PIN that went through the module is left anywhere in the process.
//
// MemoryAfterLogout forks a child that receives, through a pipe, a new user PIN, an AES key, an
// EC P-256 private scalar and a second AES key that it has never seen before; it sets the PIN,
// imports the keys (token objects and a private session object), uses each, and wipes its own
// copies. At three points the parent reads the child's whole memory through /proc/PID/mem, the
// way a core dump would see it, and searches it for those secrets (the scalar also in the
// little-endian order of bignum words):
//   A  logged in, keys in use (signatures left active in two sessions): the process is
//      undumpable; as root the scan must find the AES key (so the scan does see the module's
//      heap), as another user the read must be refused;
//   B  after C_Logout, the library still initialized: dumpable again, no secret anywhere;
//   C  after C_Finalize: no secret anywhere.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "fixture.h"

namespace twinhsm::test {
namespace {

constexpr size_t kKeyLen = 32;
constexpr size_t kPinLen = 32;

struct Secrets {
  std::array<uint8_t, kKeyLen> aes_key;
  std::array<uint8_t, kKeyLen> ec_scalar;
  std::array<uint8_t, kKeyLen> session_key;
  std::array<char, kPinLen> pin;
};

Secrets fresh_secrets() {
  std::random_device rd;
  Secrets s;
  auto fill = [&](auto& a) {
    for (auto& b : a) {
      b = static_cast<uint8_t>(rd());
    }
  };
  fill(s.aes_key);
  fill(s.ec_scalar);
  s.ec_scalar[0] = 0x7f;  // below the P-256 group order
  fill(s.session_key);
  const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  for (auto& c : s.pin) {
    c = alphabet[rd() % (sizeof alphabet - 1)];
  }
  return s;
}

bool read_all(int fd, void* p, size_t n) {
  auto* out = static_cast<uint8_t*>(p);
  while (n > 0) {
    ssize_t got = ::read(fd, out, n);
    if (got <= 0) {
      return false;
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

// ---- the child ------------------------------------------------------------------------------

// Exit codes of the child: the step that failed.
[[noreturn]] void child_fail(int step) {
  ::_exit(10 + step);
}

void check(CK_RV rv, int step) {
  if (rv != CKR_OK) {
    child_fail(step);
  }
}

// report tells the parent the stage reached (and whether the process is dumpable), then waits.
void report_and_wait(int to_parent, int from_parent, char stage) {
  char msg[2] = {stage, static_cast<char>(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))};
  if (::write(to_parent, msg, 2) != 2 || !read_all(from_parent, msg, 1)) {
    ::_exit(3);
  }
}

// How the login ends after stage A.
enum class LoginEnd : char {
  logout = 'L',     // the child calls C_Logout
  elsewhere = 'E',  // another process initializes the token again; the child's next call sees it
};

[[noreturn]] void child(CK_FUNCTION_LIST_3_0* f, const std::string& old_pin, LoginEnd end,
                        int to_parent, int from_parent) {
  Secrets s;
  if (!read_all(from_parent, &s, sizeof s)) {
    ::_exit(2);
  }
  CK_BBOOL yes = CK_TRUE;
  CK_BBOOL no = CK_FALSE;
  CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
  CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
  CK_KEY_TYPE aes = CKK_AES;
  CK_KEY_TYPE ec = CKK_EC;
  uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

  check(f->C_Initialize(nullptr), 1);
  CK_SESSION_HANDLE session;
  check(f->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &session), 2);
  auto* old = reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(old_pin.data()));
  auto* pin = reinterpret_cast<CK_UTF8CHAR_PTR>(s.pin.data());
  check(f->C_Login(session, CKU_USER, old, old_pin.size()), 3);
  check(f->C_SetPIN(session, old, old_pin.size(), pin, kPinLen), 4);
  check(f->C_Logout(session), 5);
  check(f->C_Login(session, CKU_USER, pin, kPinLen), 6);

  CK_ATTRIBUTE aes_key[] = {
      {CKA_CLASS, &secret, sizeof secret},
      {CKA_KEY_TYPE, &aes, sizeof aes},
      {CKA_TOKEN, &yes, 1},
      {CKA_PRIVATE, &yes, 1},
      {CKA_SENSITIVE, &yes, 1},
      {CKA_ENCRYPT, &yes, 1},
      {CKA_VALUE, s.aes_key.data(), kKeyLen},
  };
  CK_OBJECT_HANDLE aes_handle;
  check(f->C_CreateObject(session, aes_key, std::size(aes_key), &aes_handle), 7);
  CK_ATTRIBUTE ec_key[] = {
      {CKA_CLASS, &priv, sizeof priv},
      {CKA_KEY_TYPE, &ec, sizeof ec},
      {CKA_TOKEN, &yes, 1},
      {CKA_PRIVATE, &yes, 1},
      {CKA_SENSITIVE, &yes, 1},
      {CKA_SIGN, &yes, 1},
      {CKA_EC_PARAMS, p256, sizeof p256},
      {CKA_VALUE, s.ec_scalar.data(), kKeyLen},
  };
  CK_OBJECT_HANDLE ec_handle;
  check(f->C_CreateObject(session, ec_key, std::size(ec_key), &ec_handle), 8);
  CK_ATTRIBUTE session_key[] = {
      {CKA_CLASS, &secret, sizeof secret},
      {CKA_KEY_TYPE, &aes, sizeof aes},
      {CKA_TOKEN, &no, 1},
      {CKA_PRIVATE, &yes, 1},
      {CKA_ENCRYPT, &yes, 1},
      {CKA_VALUE, s.session_key.data(), kKeyLen},
  };
  CK_OBJECT_HANDLE session_handle;
  check(f->C_CreateObject(session, session_key, std::size(session_key), &session_handle), 9);
  // The child's own copies go; only the module may still hold the values.
  std::memset(&s, 0, sizeof s);
  __asm__ __volatile__("" : : "r"(&s) : "memory");

  uint8_t iv[12] = {1, 2, 3};
  CK_GCM_PARAMS gcm{iv, sizeof iv, sizeof iv * 8, nullptr, 0, 128};
  CK_MECHANISM gcm_mech{CKM_AES_GCM, &gcm, sizeof gcm};
  uint8_t data[64] = {42};
  uint8_t out[256];
  for (CK_OBJECT_HANDLE key : {aes_handle, session_handle}) {
    CK_ULONG out_len = sizeof out;
    check(f->C_EncryptInit(session, &gcm_mech, key), 10);
    check(f->C_Encrypt(session, data, sizeof data, out, &out_len), 11);
  }
  CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
  CK_ULONG sig_len = sizeof out;
  check(f->C_SignInit(session, &ecdsa, ec_handle), 12);
  check(f->C_Sign(session, data, 32, out, &sig_len), 13);
  // An operation left active at logout, in this session and in another one that signed before:
  // C_Logout must end both, and drop the key each session kept ready for its next signature.
  check(f->C_SignInit(session, &ecdsa, ec_handle), 14);
  CK_SESSION_HANDLE other;
  check(f->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &other), 17);
  sig_len = sizeof out;
  check(f->C_SignInit(other, &ecdsa, ec_handle), 18);
  check(f->C_Sign(other, data, 32, out, &sig_len), 19);
  check(f->C_SignInit(other, &ecdsa, ec_handle), 20);
  report_and_wait(to_parent, from_parent, 'A');

  if (end == LoginEnd::logout) {
    check(f->C_Logout(session), 15);
  } else {
    ::usleep(5000);  // past the module's 1 ms between looks at the store
    if (f->C_FindObjectsInit(session, nullptr, 0) != CKR_USER_NOT_LOGGED_IN) {
      child_fail(21);
    }
  }
  report_and_wait(to_parent, from_parent, 'B');

  check(f->C_Finalize(nullptr), 16);
  report_and_wait(to_parent, from_parent, 'C');
  ::_exit(0);
}

// ---- the parent -----------------------------------------------------------------------------

struct Needle {
  std::string name;
  std::string bytes;
};

std::vector<Needle> needles_of(const Secrets& s) {
  auto str = [](const auto& a) {
    return std::string(reinterpret_cast<const char*>(a.data()), a.size());
  };
  std::string scalar_le = str(s.ec_scalar);
  std::reverse(scalar_le.begin(), scalar_le.end());
  return {{"the AES key", str(s.aes_key)},
          {"the EC private scalar (big-endian)", str(s.ec_scalar)},
          {"the EC private scalar (little-endian words)", scalar_le},
          {"the session AES key", str(s.session_key)},
          {"the user PIN", std::string(s.pin.data(), s.pin.size())}};
}

struct Scan {
  bool readable = false;  // /proc/PID/mem could be opened
  std::map<std::string, int> hits;
  size_t bytes = 0;
};

// scan_memory reads every readable mapping of pid, as a core dump would, and counts the needles.
// Mappings over kLargestRegion are passed over (ASan's shadow); the control at stage A shows
// that the heap is not.
constexpr uint64_t kLargestRegion = uint64_t{1} << 32;
Scan scan_memory(pid_t pid, const std::vector<Needle>& needles) {
  Scan scan;
  int mem = ::open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY);
  if (mem < 0) {
    return scan;
  }
  scan.readable = true;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  std::string region;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    if (perms.empty() || perms[0] != 'r' || line.find("[vvar]") != std::string::npos ||
        line.find("[vsyscall]") != std::string::npos) {
      continue;
    }
    uint64_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    uint64_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (end - start > kLargestRegion) {
      continue;  // a sanitizer's shadow memory: terabytes of reserved address space
    }
    region.resize(end - start);
    ssize_t got = ::pread(mem, region.data(), region.size(), static_cast<off_t>(start));
    if (got <= 0) {
      continue;
    }
    region.resize(static_cast<size_t>(got));
    scan.bytes += region.size();
    for (const auto& n : needles) {
      for (size_t at = region.find(n.bytes); at != std::string::npos;
           at = region.find(n.bytes, at + 1)) {
        ++scan.hits[n.name];
      }
    }
  }
  ::close(mem);
  return scan;
}

std::string describe(const Scan& scan) {
  std::string out;
  for (const auto& [name, count] : scan.hits) {
    out += name + ": " + std::to_string(count) + " cop" + (count == 1 ? "y" : "ies") + "; ";
  }
  return out.empty() ? "none" : out;
}

class SecretsTest : public P11Test {
 protected:
  bool initialize_in_setup() override { return false; }
};

TEST_F(SecretsTest, UndumpableExactlyWhileLoggedIn) {
  ASSERT_EQ(1, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  CK_SESSION_HANDLE s = open_session();
  EXPECT_EQ(1, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) << "dumpable before any login";
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_EQ(0, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) << "undumpable while logged in";
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_EQ(1, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) << "dumpable again after C_Logout";
  ASSERT_CKR(CKR_OK, login_so(s));
  EXPECT_EQ(0, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) << "undumpable while the SO is logged in";
  ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));
  EXPECT_EQ(1, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) << "dumpable again after C_Finalize";
}

// expect_no_secrets_after runs the child, scans its memory at stages A, B and C, and checks them
// (see the top of the file).
void expect_no_secrets_after(LoginEnd end, CK_FUNCTION_LIST_3_0* f, const TempDevice& device) {
  int down[2], up[2];
  ASSERT_EQ(0, ::pipe(down));
  ASSERT_EQ(0, ::pipe(up));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(down[1]);
    ::close(up[0]);
    child(f, device.user_pin(), end, up[1], down[0]);
  }
  ::close(down[0]);
  ::close(up[1]);
  // Made after the fork: the child has no copy but the one it reads from the pipe.
  Secrets secrets = fresh_secrets();
  ASSERT_EQ(static_cast<ssize_t>(sizeof secrets), ::write(down[1], &secrets, sizeof secrets));
  auto needles = needles_of(secrets);
  const bool root = ::geteuid() == 0;

  for (char stage : {'A', 'B', 'C'}) {
    char msg[2];
    if (!read_all(up[0], msg, 2)) {
      break;  // the child failed: its exit code says where
    }
    ASSERT_EQ(stage, msg[0]);
    Scan scan = scan_memory(pid, needles);
    if (stage == 'A' && end == LoginEnd::elsewhere) {
      CommandResult r = run_cli({"token", "init", "--device", device.dir().string(), "--label",
                                 "again", "--so-pin", device.so_pin()});
      EXPECT_TRUE(r.ok()) << "twinhsm token init: " << r.describe();
    }
    if (stage == 'A') {
      EXPECT_EQ(0, msg[1]) << "the child is dumpable while logged in";
      if (root) {
        ASSERT_TRUE(scan.readable);
        EXPECT_GT(scan.hits["the AES key"], 0) << "the scan does not see the module's memory";
      } else {
        EXPECT_FALSE(scan.readable) << "another process read an undumpable process's memory";
      }
    } else {
      EXPECT_EQ(1, msg[1]) << "the child is not dumpable again at stage " << stage;
      ASSERT_TRUE(scan.readable);
      EXPECT_GT(scan.bytes, 1u << 20);
      EXPECT_TRUE(scan.hits.empty()) << "stage " << stage << ": " << describe(scan) << " in "
                                     << scan.bytes << " bytes of the process's memory";
    }
    ASSERT_EQ(1, ::write(down[1], "go", 1));
  }
  int status = 0;
  ASSERT_EQ(pid, ::waitpid(pid, &status, 0));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child stopped at step " << (WIFEXITED(status) ? WEXITSTATUS(status) - 10 : -1);
  ::close(down[1]);
  ::close(up[0]);
}

TEST_F(SecretsTest, NoKeyOrPinInProcessMemoryAfterLogout) {
  expect_no_secrets_after(LoginEnd::logout, f(), device());
}

// A restore or a new initialization by another process logs this one out when it next looks at
// the store: the other sessions' kept keys and active operations go at once, as at C_Logout.
TEST_F(SecretsTest, NoKeyOrPinInProcessMemoryAfterAnotherProcessEndsTheLogin) {
  expect_no_secrets_after(LoginEnd::elsewhere, f(), device());
}

}  // namespace
}  // namespace twinhsm::test
