// Issue 7, item 2: several processes and threads on one device at once. Three worker processes
// (forked while the module is loaded but not initialized), each with two threads and a session
// per thread, loop for TWINHSM_CONCURRENCY_SECONDS (8 by default): log in, sign with a shared EC
// P-256 token key and verify, create a private data object "p<P>-t<T>-<i>", destroy the one made
// two iterations before, and now and then log out. Meanwhile the test makes three backups with
// `twinhsm backup create` (the device's button is insecure-auto). It shows:
//  - no CK_RV the spec does not allow: only the codes that a C_Logout by another thread of the
//    same process explains (login state is per process), and only if one happened since the
//    thread's last login, are tolerated, and the operation is retried after a new login;
//  - no deadlock: a watchdog kills workers still running 60 s after the end, and fails;
//  - no lost or extra object: afterwards C_FindObjects gives exactly the objects the workers
//    report alive, every row authenticates (its CKA_VALUE reads back) and the shared key signs;
//  - every backup is a consistent snapshot: it verifies on a twin, and restored there, all the
//    objects its header counts are found, each thread's objects are at most 3 consecutive
//    numbers (a backup that read rows at different moments could show a gap), the EC key signs
//    and every value reads.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <thread>

#include "fixture.h"

namespace twinhsm::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kProcesses = 3, kThreads = 2, kBackups = 3;
constexpr const char* kKeyLabel = "shared-ec";

std::string value_of(const std::string& label) {
  return "value of " + label;
}

// find_key finds the shared key of class cls. Finding none gives CKR_OBJECT_HANDLE_INVALID (the
// private key is invisible when logged out), more than one CKR_GENERAL_ERROR.
CK_RV find_key(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
               CK_OBJECT_HANDLE* out) {
  Template q;
  q.ulong(CKA_CLASS, cls).str(CKA_LABEL, kKeyLabel);
  CK_OBJECT_HANDLE found[2];
  CK_ULONG n = 0;
  CK_RV rv = f->C_FindObjectsInit(s, q.data(), q.size());
  if (rv == CKR_OK) {
    rv = f->C_FindObjects(s, found, 2, &n);
    CK_RV final_rv = f->C_FindObjectsFinal(s);
    rv = rv != CKR_OK ? rv : final_rv;
  }
  if (rv == CKR_OK && n != 1) {
    rv = n == 0 ? CKR_OBJECT_HANDLE_INVALID : CKR_GENERAL_ERROR;
  }
  *out = rv == CKR_OK ? found[0] : CK_INVALID_HANDLE;
  return rv;
}

// sign_and_verify signs text with priv (ECDSA-SHA256) and verifies with pub; *step names the
// call that failed.
CK_RV sign_and_verify(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                      CK_OBJECT_HANDLE pub, const std::string& text, std::string* step) {
  CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
  auto* data = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(text.data()));
  CK_BYTE sig[64];
  CK_ULONG sig_len = sizeof sig;
  const std::pair<const char*, std::function<CK_RV()>> steps[] = {
      {"C_SignInit", [&] { return f->C_SignInit(s, &ecdsa, priv); }},
      {"C_Sign", [&] { return f->C_Sign(s, data, text.size(), sig, &sig_len); }},
      {"C_VerifyInit", [&] { return f->C_VerifyInit(s, &ecdsa, pub); }},
      {"C_Verify", [&] { return f->C_Verify(s, data, text.size(), sig, sig_len); }}};
  for (const auto& [name, call] : steps) {
    *step = name;
    if (CK_RV rv = call(); rv != CKR_OK) {
      return rv;
    }
  }
  return CKR_OK;
}

// ---- The workers (no gtest in the child processes: they report through a file) ----

// Process is what the threads of a worker process share.
struct Process {
  CK_FUNCTION_LIST_3_0* f = nullptr;
  std::string pin;
  Clock::time_point deadline;
  // C_Login (with its look at `logouts`) holds it shared, C_Logout exclusively: a thread that
  // saw no logout at its login and then gets "not logged in" has found a bug, not a race.
  std::shared_mutex login_mutex;
  std::atomic<unsigned> logouts{0};
  std::mutex report_mutex;
  std::vector<std::string> report;  // "FAIL ...", "LIVE <label>", "ITERATIONS <n>"
  void add(const std::string& line) {
    std::lock_guard lock(report_mutex);
    report.push_back(line);
  }
};

class WorkerThread {
 public:
  WorkerThread(Process& p, int process, int thread)
      : p_(p),
        f_(p.f),
        thread_(thread),
        prefix_("p" + std::to_string(process) + "-t" + std::to_string(thread) + "-") {}

  void run() {
    CK_FLAGS rw = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    if (!check("C_OpenSession", f_->C_OpenSession(0, rw, nullptr, nullptr, &s_)) || !login() ||
        !retry("find the key pair", [&] {
          CK_RV rv = find_key(f_, s_, CKO_PRIVATE_KEY, &priv_);
          return rv == CKR_OK ? find_key(f_, s_, CKO_PUBLIC_KEY, &pub_) : rv;
        })) {
      return;
    }
    std::deque<std::pair<std::string, CK_OBJECT_HANDLE>> mine;  // created, not destroyed
    int i = 0;
    for (; Clock::now() < p_.deadline; ++i) {
      std::string label = prefix_ + std::to_string(i);
      CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
      Template data = data_object(label, value_of(label), true, true);
      if (!login() ||
          !retry(step_, [&] { return sign_and_verify(f_, s_, priv_, pub_, label, &step_); }) ||
          !retry("C_CreateObject " + label,
                 [&] { return f_->C_CreateObject(s_, data.data(), data.size(), &h); })) {
        break;
      }
      mine.emplace_back(label, h);
      if (mine.size() == 3) {
        if (!retry("C_DestroyObject " + mine.front().first,
                   [&] { return f_->C_DestroyObject(s_, mine.front().second); })) {
          break;
        }
        mine.pop_front();
      }
      if ((i + 2 * thread_) % 5 == 0 && !logout()) {
        break;
      }
    }
    for (const auto& m : mine) {
      p_.add("LIVE " + m.first);
    }
    p_.add("ITERATIONS " + std::to_string(i));
    check("C_CloseSession", f_->C_CloseSession(s_));
  }

 private:
  bool check(const std::string& what, CK_RV rv) {
    if (rv != CKR_OK) {
      p_.add("FAIL " + prefix_ + ": " + what + " -> " + rv_name(rv));
    }
    return rv == CKR_OK;
  }
  // login logs the user in (already logged in is fine) and notes how many logouts it has seen.
  bool login() {
    std::shared_lock lock(p_.login_mutex);
    seen_logouts_ = p_.logouts.load();
    auto* pin = reinterpret_cast<CK_UTF8CHAR_PTR>(p_.pin.data());
    CK_RV rv = f_->C_Login(s_, CKU_USER, pin, p_.pin.size());
    return check("C_Login", rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv);
  }
  // logout logs out (another thread having done it first is fine).
  bool logout() {
    std::unique_lock lock(p_.login_mutex);
    p_.logouts++;
    CK_RV rv = f_->C_Logout(s_);
    return check("C_Logout", rv == CKR_USER_NOT_LOGGED_IN ? CKR_OK : rv);
  }
  // retry runs op until it succeeds. A code that a logout explains, when a logout happened since
  // this thread's last login, makes it log in again and retry; anything else is a failure.
  bool retry(const std::string& what, const std::function<CK_RV()>& op) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      CK_RV rv = op();
      bool explained = rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_OBJECT_HANDLE_INVALID ||
                       rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OPERATION_NOT_INITIALIZED;
      if (rv == CKR_OK || !explained || p_.logouts.load() == seen_logouts_) {
        return check(what, rv);
      }
      if (!login()) {
        return false;
      }
    }
    return check(what + " (still failing after 100 logins)", CKR_GENERAL_ERROR);
  }

  Process& p_;
  CK_FUNCTION_LIST_3_0* f_;
  int thread_;
  std::string prefix_;
  std::string step_;  // the signing step that failed last
  CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv_ = CK_INVALID_HANDLE, pub_ = CK_INVALID_HANDLE;
  unsigned seen_logouts_ = 0;
};

// run_worker is a worker process's life; it writes its report to `report` and gives the exit
// code.
int run_worker(CK_FUNCTION_LIST_3_0* f, int process, const std::string& pin,
               Clock::time_point deadline, const fs::path& report) {
  Process p;
  p.f = f;
  p.pin = pin;
  p.deadline = deadline;
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = f->C_Initialize(&args);
  if (rv == CKR_OK) {
    std::vector<WorkerThread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back(p, process, t);
    }
    std::vector<std::thread> threads;
    for (auto& w : workers) {
      threads.emplace_back([&w] { w.run(); });
    }
    for (auto& t : threads) {
      t.join();
    }
    rv = f->C_Finalize(nullptr);
  }
  if (rv != CKR_OK) {
    p.add("FAIL C_Initialize/C_Finalize -> " + rv_name(rv));
  }
  std::ofstream out(report);
  bool failed = false;
  for (const auto& line : p.report) {
    out << line << "\n";
    failed |= line.rfind("FAIL", 0) == 0;
  }
  return failed || !out.flush() ? 1 : 0;
}

// ---- The test ----

class ConcurrencyTest : public P11Test {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.button = "insecure-auto";  // backups need a press
    return o;
  }
  bool initialize_in_setup() override { return false; }

  // wait_all reaps the workers; those still running at `limit` are killed (false: a deadlock).
  static bool wait_all(std::map<pid_t, int>& status, Clock::time_point limit) {
    size_t running = status.size();
    for (; running > 0 && Clock::now() < limit;
         std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
      for (auto& [pid, st] : status) {
        running -= st == -1 && waitpid(pid, &st, WNOHANG) == pid;
      }
    }
    for (auto& [pid, st] : status) {
      if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
    return running == 0;
  }

  // read_token gives the labels of the data objects in a slot, each CKA_VALUE read and checked,
  // and checks that the shared key pair is there and signs.
  std::set<std::string> read_token(CK_SLOT_ID slot) {
    std::set<std::string> labels;
    CK_SESSION_HANDLE s;
    EXPECT_CKR(CKR_OK, f()->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s));
    EXPECT_CKR(CKR_OK, login_user(s));
    Template data;
    data.ulong(CKA_CLASS, CKO_DATA);
    for (CK_OBJECT_HANDLE o : find_all(f(), s, data)) {
      Bytes label, value;
      EXPECT_CKR(CKR_OK, get_attribute(f(), s, o, CKA_LABEL, &label));
      std::string name(label.begin(), label.end());
      EXPECT_CKR(CKR_OK, get_attribute(f(), s, o, CKA_VALUE, &value)) << name;
      EXPECT_EQ(std::string(value.begin(), value.end()), value_of(name));
      EXPECT_TRUE(labels.insert(name).second) << "two objects labelled " << name;
    }
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE;
    std::string step;
    EXPECT_CKR(CKR_OK, find_key(f(), s, CKO_PRIVATE_KEY, &priv));
    EXPECT_CKR(CKR_OK, find_key(f(), s, CKO_PUBLIC_KEY, &pub));
    EXPECT_CKR(CKR_OK, sign_and_verify(f(), s, priv, pub, "after the run", &step)) << step;
    EXPECT_CKR(CKR_OK, f()->C_CloseSession(s));
    return labels;
  }
};

TEST_F(ConcurrencyTest, ProcessesThreadsAndBackupsOnOneDevice) {
  // A twin for the backups (same master key and diversifier) is slot 1; the device is slot 0.
  TempDevice twin(device(), device_options());
  fs::path conf = device().root() / "two.toml";
  write_config(conf, {device().dir(), twin.dir()});
  set_config(conf);

  // The shared key pair; then the module is finalized again, for the workers to be forked from
  // a process that has not initialized it.
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, login_user(s));
  CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  Template pub, priv;
  pub.bytes(CKA_EC_PARAMS, ec_params_p256()).boolean(CKA_TOKEN, true).str(CKA_LABEL, kKeyLabel);
  pub.boolean(CKA_PRIVATE, false).boolean(CKA_VERIFY, true);
  priv.boolean(CKA_TOKEN, true).boolean(CKA_PRIVATE, true).boolean(CKA_SIGN, true);
  priv.str(CKA_LABEL, kKeyLabel);
  CK_OBJECT_HANDLE hpub, hpriv;
  ASSERT_CKR(CKR_OK, f()->C_GenerateKeyPair(s, &gen, pub.data(), pub.size(), priv.data(),
                                            priv.size(), &hpub, &hpriv));
  ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));

  const char* env = std::getenv("TWINHSM_CONCURRENCY_SECONDS");
  const double seconds = env ? std::atof(env) : 8.0;
  const Clock::time_point start = Clock::now();
  auto at = [&](double t) {
    return start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t));
  };
  auto report = [&](int p) { return device().root() / ("worker-" + std::to_string(p) + ".txt"); };
  std::map<pid_t, int> status;  // -1 while running
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    if (pid == 0) {
      _exit(run_worker(f(), p, device().user_pin(), at(seconds), report(p)));
    }
    EXPECT_GT(pid, 0) << "fork failed";
    status[pid] = -1;
  }

  // The backups, spread over the run.
  std::vector<fs::path> backups;
  for (int b = 1; b <= kBackups; ++b) {
    std::this_thread::sleep_until(at(seconds * b / (kBackups + 1)));
    fs::path file = device().root() / ("backup-" + std::to_string(b) + ".bak");
    CommandResult r =
        run_cli({"backup", "create", "--device", device().dir().string(), "-o", file.string()});
    EXPECT_TRUE(r.ok()) << "backup create " << b << ": " << r.describe();
    if (r.ok()) {
      backups.push_back(file);
    }
  }

  ASSERT_TRUE(wait_all(status, at(seconds + 60))) << "workers still running 60 s after the end";

  // The workers' reports: failures, and the objects each believes exist.
  std::set<std::string> expected;
  long iterations = 0;
  for (int p = 0; p < kProcesses; ++p) {
    std::istringstream lines(read_file(report(p)));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("LIVE ", 0) == 0) {
        expected.insert(line.substr(5));
      } else if (line.rfind("ITERATIONS ", 0) == 0) {
        iterations += std::stol(line.substr(11));
      } else {
        ADD_FAILURE() << "worker " << p << ": " << line;
      }
    }
  }
  for (const auto& [pid, st] : status) {
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "worker " << pid << ": status " << st;
  }
  std::printf("concurrency: %d processes x %d threads, %ld iterations in %.1f s, %zu backups\n",
              kProcesses, kThreads, iterations, seconds, backups.size());
  EXPECT_GT(iterations, 0);

  // The device holds exactly the objects the workers left, all readable; the key still signs.
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  EXPECT_EQ(read_token(0), expected) << "lost or extra objects";
  ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));

  // Each backup verifies on the twin and, restored there, is one consistent snapshot.
  for (const fs::path& file : backups) {
    SCOPED_TRACE(file.filename().string());
    CommandResult v = run_cli({"backup", "verify", "--device", twin.dir().string(), file.string()});
    EXPECT_TRUE(v.ok()) << v.describe();
    CommandResult r =
        run_cli({"backup", "restore", "--device", twin.dir().string(), "--force", file.string()});
    ASSERT_TRUE(r.ok()) << r.describe();
    CommandResult header = run_cli({"backup", "inspect", file.string()});
    size_t at_count = header.out.find("private_objects: ");
    ASSERT_NE(at_count, std::string::npos) << header.describe();
    long private_objects = std::stol(header.out.substr(at_count + 17));

    ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
    std::set<std::string> snapshot = read_token(1);
    EXPECT_EQ(static_cast<long>(snapshot.size()) + 1, private_objects)
        << "C_FindObjects does not find every private object of the backup (the +1 is the key)";
    std::map<std::string, std::set<int>> numbers;  // "p0-t1-" -> {7, 8, 9}
    for (const std::string& label : snapshot) {
      size_t dash = label.rfind('-');
      numbers[label.substr(0, dash + 1)].insert(std::stoi(label.substr(dash + 1)));
    }
    for (const auto& [prefix, n] : numbers) {
      EXPECT_LE(n.size(), 3u) << prefix << " has too many objects";
      EXPECT_EQ(*n.rbegin() - *n.begin() + 1, static_cast<int>(n.size())) << prefix << " gap";
    }
    std::printf("%s: %zu objects of %zu threads\n", file.filename().c_str(), snapshot.size(),
                numbers.size());
    ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));
  }
}

}  // namespace
}  // namespace twinhsm::test
