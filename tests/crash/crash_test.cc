// Crash safety (issue 7, section 1). KilledAtRandomPoints runs crash_workload on one device, kills
// it with SIGKILL after a random delay, and checks the device against a model built from the
// workload's log: every operation that returned is there, the one that was cut off is there whole
// or not at all, every row authenticates, both roles log in, every finished backup verifies and
// no file at a backup's final name is incomplete. The next round continues on the same device.
// FullDisk fills a 2 MB tmpfs with objects; ReadOnlyDirectory opens a device its user may not
// write. Both: a clear error, nothing lost.
//
// TWINHSM_CRASH_ROUNDS (default 320) sets the number of kills, TWINHSM_CRASH_SEED the seed of the
// child seeds and delays (printed; the kill moments still depend on timing).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "backup/atomic_file.h"
#include "backup/create.h"
#include "backup/reader.h"
#include "backup/restore.h"
#include "crash_common.h"
#include "device/device.h"
#include "swtpm.h"
#include "test_press.h"
#include "token/ck_error.h"
#include "tpm/capabilities.h"
#include "tpm/context.h"

namespace twinhsm::crash {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "twinhsm-crash-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void make_initialized_device(const fs::path& dir, const std::string& secure_element = "file") {
  device::PersonalizeOptions o;
  o.diversifier = kDiversifier;
  o.pbkdf2_iterations = 1000;
  o.secure_element = secure_element;
  device::Device::personalize(dir, master_key(), o);
  auto d = device::Device::open(dir);
  d->token().init_token(as_bytes(kSoPin), kTokenLabel);
  d->token().login(token::Role::so, as_bytes(kSoPin));
  d->token().init_pin(as_bytes(kUserPins[0]));
  d->token().logout();
}

std::string error_kind(const std::exception& e) {
  if (dynamic_cast<const token::CkError*>(&e)) {
    return "CkError";
  }
  if (dynamic_cast<const StoreError*>(&e)) {
    return "StoreError";
  }
  if (dynamic_cast<const UsageError*>(&e)) {
    return "UsageError";
  }
  if (dynamic_cast<const IntegrityError*>(&e)) {
    return "IntegrityError";
  }
  if (dynamic_cast<const Error*>(&e)) {
    return "Error";
  }
  return "std::exception";
}

// shown is a value as text when it is printable, else as hex.
std::string shown(const Bytes& v) {
  bool text = !v.empty() &&
              std::all_of(v.begin(), v.end(), [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
  return text ? "'" + std::string(v.begin(), v.end()) + "'" : to_hex(v);
}

// attrs_diff compares two attribute maps, CKA_UNIQUE_ID aside; "" when equal.
std::string attrs_diff(const token::AttributeMap& want, const token::AttributeMap& have) {
  std::map<CK_ATTRIBUTE_TYPE, Bytes> a, b;
  for (const auto& [t, v] : want) {
    if (t != CKA_UNIQUE_ID) {
      a[t] = Bytes(v.begin(), v.end());
    }
  }
  for (const auto& [t, v] : have) {
    if (t != CKA_UNIQUE_ID) {
      b[t] = Bytes(v.begin(), v.end());
    }
  }
  std::ostringstream out;
  for (const auto& [t, v] : a) {
    auto it = b.find(t);
    if (it == b.end()) {
      out << " attribute 0x" << std::hex << t << std::dec << " is missing;";
    } else if (it->second != v) {
      out << " attribute 0x" << std::hex << t << std::dec << " is " << shown(it->second) << ", not "
          << shown(v) << ";";
    }
  }
  for (const auto& [t, v] : b) {
    if (!a.count(t)) {
      out << " attribute 0x" << std::hex << t << std::dec << " should not be there;";
    }
  }
  return out.str();
}

std::string label_of(const token::AttributeMap& attrs) {
  Bytes l = attrs.get_bytes(CKA_LABEL);
  return std::string(l.begin(), l.end());
}

// ---------------------------------------------------------------------------------------------
// The model of the device: the objects the workload made (by their n) and the user PIN.

struct Obj {
  Kind kind = Kind::data_public;
  std::string label;
  CK_OBJECT_HANDLE handle = 0;  // 0: not known (a create cut off)
  std::string uid;              // "": not known
};

struct Model {
  std::map<uint64_t, Obj> objects;
  int pin = 0;
};

struct Seen {
  CK_OBJECT_HANDLE handle = 0;
  token::AttributeMap attrs;
};

// What the device holds, as the test reads it after a kill.
struct Actual {
  std::map<uint64_t, Seen> objects;
  int pin = -1;
};

class Expected {
 public:
  // attrs is object n of kind, with label, as C_CreateObject and C_SetAttributeValue make it.
  token::AttributeMap attrs(uint64_t n, Kind kind, const std::string& label) {
    auto key = std::make_pair(n, static_cast<int>(kind));
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      it = cache_.emplace(key, complete_object(object_template(n, kind))).first;
    }
    token::AttributeMap a = it->second;
    a.set(CKA_LABEL, as_bytes(label));
    return a;
  }

 private:
  std::map<std::pair<uint64_t, int>, token::AttributeMap> cache_;
};

// model_diff returns how the device differs from the model, "" when it matches it exactly.
std::string model_diff(const Model& model, const Actual& actual, Expected& expected) {
  std::ostringstream out;
  if (model.pin != actual.pin) {
    out << " the user PIN is " << actual.pin << ", not " << model.pin << ";";
  }
  for (const auto& [n, o] : model.objects) {
    auto it = actual.objects.find(n);
    if (it == actual.objects.end()) {
      out << " object " << n << " (" << o.label << ") is missing;";
      continue;
    }
    const Seen& s = it->second;
    if (o.handle != 0 && s.handle != o.handle) {
      out << " object " << n << " has handle " << s.handle << ", not " << o.handle << ";";
    }
    std::string d = attrs_diff(expected.attrs(n, o.kind, o.label), s.attrs);
    if (!d.empty()) {
      out << " object " << n << " (" << kind_name(o.kind) << ", " << o.label << "):" << d;
    }
    Bytes uid = s.attrs.get_bytes(CKA_UNIQUE_ID);
    if (uid.size() != 32 || (!o.uid.empty() && std::string(uid.begin(), uid.end()) != o.uid)) {
      out << " object " << n << " has CKA_UNIQUE_ID '" << std::string(uid.begin(), uid.end())
          << "', not '" << o.uid << "';";
    }
  }
  for (const auto& [n, s] : actual.objects) {
    if (!model.objects.count(n)) {
      out << " object " << n << " (" << label_of(s.attrs) << ", handle " << s.handle
          << ") should not exist;";
    }
  }
  return out.str();
}

// row_id is the store row a token object's handle names: the workload's process restores
// backups itself, after which its handles carry the count of replacements it has seen
// (Token::handle_of); the model, and the fresh process that checks the device, know the rows.
std::optional<uint64_t> row_id(std::optional<uint64_t> handle) {
  if (handle) {
    *handle &= token::Token::kSessionHandleBase - 1;
  }
  return handle;
}

// adopt fills in the handles and unique ids the log did not give (a create cut off but landed).
void adopt(Model& model, const Actual& actual) {
  for (auto& [n, o] : model.objects) {
    const Seen& s = actual.objects.at(n);
    o.handle = s.handle;
    Bytes uid = s.attrs.get_bytes(CKA_UNIQUE_ID);
    o.uid.assign(uid.begin(), uid.end());
  }
}

struct BackupInfo {
  Model model;  // the device when the backup was made
  bool verified = false;
};

// ---------------------------------------------------------------------------------------------
// One round's child: crash_workload, killed.

struct RunResult {
  std::vector<std::string> lines;
  bool killed = false;  // died of our SIGKILL
  bool hung = false;    // killed because it never became ready
  int status = 0;
  bool saw_ready = false;
  double ready_ms = -1;  // from spawn to "ready"
};

RunResult run_and_kill(const std::vector<std::string>& args, int delay_us, bool from_spawn) {
  RunResult r;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  std::vector<char*> argv;
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::optional<Clock::time_point> deadline;
  if (from_spawn) {
    deadline = start + std::chrono::microseconds(delay_us);
  }
  auto give_up = start + std::chrono::seconds(20);  // no ready line: a hung child
  std::string buffer;
  bool eof = false;
  bool sent = false;
  auto take_lines = [&] {
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (line.rfind("ready ", 0) == 0) {
        r.saw_ready = true;
        auto now = Clock::now();
        r.ready_ms = std::chrono::duration<double, std::milli>(now - start).count();
        if (!deadline) {
          deadline = now + std::chrono::microseconds(delay_us);
        }
      }
      r.lines.push_back(std::move(line));
    }
  };
  char chunk[4096];
  while (!eof) {
    auto now = Clock::now();
    if (!sent && ((deadline && now >= *deadline) || now >= give_up)) {
      r.hung = !deadline;
      ::kill(pid, SIGKILL);
      sent = true;
    }
    timespec ts{0, 0};
    timespec* timeout = nullptr;
    if (!sent) {
      auto until = deadline ? std::min(*deadline, give_up) : give_up;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until - now).count();
      ns = std::max<long long>(ns, 0);
      ts.tv_sec = static_cast<time_t>(ns / 1000000000);
      ts.tv_nsec = static_cast<long>(ns % 1000000000);
      timeout = &ts;
    }
    pollfd p{fds[0], POLLIN, 0};
    int rc = ::ppoll(&p, 1, timeout, nullptr);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc > 0) {
      ssize_t n = ::read(fds[0], chunk, sizeof chunk);
      if (n > 0) {
        buffer.append(chunk, static_cast<size_t>(n));
        take_lines();
      } else if (n == 0) {
        eof = true;
      }
    }
  }
  if (!buffer.empty()) {
    r.lines.push_back(buffer + " [cut: no newline]");
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = status;
  r.killed = sent && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  return r;
}

// ---------------------------------------------------------------------------------------------

class CrashRun {
 public:
  // secure_element: "file", or "tpm:TCTI" (the kills then land in TPM commands too).
  explicit CrashRun(const std::string& secure_element = "file")
      : dir_(tmp_.path() / "device"), backups_(tmp_.path() / "backups") {
    make_initialized_device(dir_, secure_element);
    fs::create_directory(backups_);
  }

  void run(int rounds, uint64_t seed) {
    seed_ = seed;
    std::mt19937_64 rng(seed);
    auto t0 = Clock::now();
    for (round_ = 0; round_ < rounds && !failed_; ++round_) {
      child_seed_ = rng();
      delay_us_ = static_cast<int>(rng() % 40001);
      from_spawn_ = rng() % 8 == 0;
      auto r0 = Clock::now();
      run_ = run_and_kill(
          {TWINHSM_CRASH_WORKLOAD, dir_.string(), backups_.string(), std::to_string(child_seed_),
           std::to_string(next_n_), std::to_string(model_.pin)},
          delay_us_, from_spawn_);
      auto r1 = Clock::now();
      child_ms_ += std::chrono::duration<double, std::milli>(r1 - r0).count();
      check_round();
      check_ms_ += std::chrono::duration<double, std::milli>(Clock::now() - r1).count();
    }
    if (!failed_) {
      final_check();
    }
    double total = std::chrono::duration<double>(Clock::now() - t0).count();
    report(total);
  }

 private:
  void fail(const std::string& what) {
    std::ostringstream out;
    out << "round " << round_ << " (test seed " << seed_text() << ", child seed " << child_seed_
        << ", kill " << delay_us_ << " us after " << (from_spawn_ ? "spawn" : "ready")
        << ", first n " << first_n_ << "): " << what << "\nlog tail:\n";
    size_t from = run_.lines.size() > 20 ? run_.lines.size() - 20 : 0;
    for (size_t i = from; i < run_.lines.size(); ++i) {
      out << "  " << run_.lines[i] << "\n";
    }
    // Keep the device and the backups for a post-mortem: the temporary directory goes away.
    fs::path kept = fs::temp_directory_path() /
                    ("twinhsm-crash-failed-" + seed_text() + "-r" + std::to_string(round_));
    std::error_code ec;
    fs::copy(tmp_.path(), kept, fs::copy_options::recursive, ec);
    out << "the device and backups as the check found them after the kill: "
        << (ec ? "not kept (" + ec.message() + ")" : kept.string()) << "\n";
    out << "reproduce: TWINHSM_CRASH_SEED=" << seed_text() << " TWINHSM_CRASH_ROUNDS=" << round_ + 1
        << " (same child seeds and delays; the kill moment also depends on timing)";
    ADD_FAILURE() << out.str();
    failed_ = true;
  }

  std::string seed_text() const { return std::to_string(seed_); }

  void check_round() {
    first_n_ = next_n_;
    if (run_.hung) {
      return fail("the workload was not ready 20 s after its start (a hang)");
    }
    if (!run_.killed) {
      std::ostringstream s;
      s << "the workload was not killed by the test: ";
      if (WIFEXITED(run_.status)) {
        s << "it exited with status " << WEXITSTATUS(run_.status);
      } else if (WIFSIGNALED(run_.status)) {
        s << "it died of signal " << WTERMSIG(run_.status);
      }
      return fail(s.str());
    }
    ++kills_;
    // Replay the log onto the model.
    std::optional<LogLine> pending;
    uint64_t last_n = 0;
    bool any = false;
    bool ready = false;
    for (const std::string& text : run_.lines) {
      auto l = parse_line(text);
      if (!l) {
        return fail("an unreadable log line: " + text);
      }
      if (l->what == "fail") {
        return fail("the workload failed: " + text);
      }
      if (l->what == "ready") {
        ready = true;
        continue;
      }
      if (!ready || l->n < next_n_ || (any && l->n < last_n)) {
        return fail("a log line out of order: " + text);
      }
      if (l->what == "begin") {
        if (pending) {
          return fail("two operations began at once: " + text);
        }
        pending = *l;
        any = true;
        last_n = l->n;
        continue;
      }
      if (l->what != "done" || !pending || pending->n != l->n || pending->op != l->op) {
        return fail("a done without its begin: " + text);
      }
      pending.reset();
      std::string err = apply_done(*l);
      if (!err.empty()) {
        return fail(err);
      }
      ++ops_done_[l->op];
    }
    if (any) {
      next_n_ = last_n + 1;
    }
    std::string phase = !ready ? "startup" : pending ? pending->op : "between operations";
    ++kill_phase_[phase];

    // What the cut-off operation may have left: the model before it, or after it.
    std::vector<Model> candidates{model_};
    std::string pending_backup;
    if (pending) {
      const auto& a = pending->args;
      const std::string& op = pending->op;
      Model after = model_;
      if (op == "create") {
        auto kind = kind_from_name(a.count("kind") ? a.at("kind") : "");
        if (!kind) {
          return fail("a create without a kind: " + pending->text);
        }
        after.objects[pending->n] = Obj{*kind, label_for(pending->n), 0, ""};
        candidates.push_back(after);
      } else if (op == "destroy") {
        auto of = parse_u64(a.count("of") ? a.at("of") : "");
        if (!of || !after.objects.erase(*of)) {
          return fail("a destroy of an object the model does not hold: " + pending->text);
        }
        candidates.push_back(after);
      } else if (op == "setlabel") {
        auto of = parse_u64(a.count("of") ? a.at("of") : "");
        if (!of || !after.objects.count(*of)) {
          return fail("a label change of an object the model does not hold: " + pending->text);
        }
        after.objects[*of].label = a.at("label");
        candidates.push_back(after);
      } else if (op == "setpin") {
        after.pin = 1 - model_.pin;
        candidates.push_back(after);
      } else if (op == "backup") {
        pending_backup = a.count("file") ? a.at("file") : "";
      } else if (op == "restore") {
        auto it = backups_known_.find(a.count("file") ? a.at("file") : "");
        if (it == backups_known_.end()) {
          return fail("a restore of a backup the test does not know: " + pending->text);
        }
        candidates.push_back(it->second.model);
      } else {
        return fail("an unknown operation: " + pending->text);
      }
    }

    // Read the device.
    std::unique_ptr<device::Device> dev;
    try {
      dev = device::Device::open(dir_);
    } catch (const std::exception& e) {
      return fail("the device does not open: " + error_kind(e) + ": " + e.what());
    }
    Actual actual;
    std::set<int> pins;
    for (const Model& m : candidates) {
      pins.insert(m.pin);
    }
    std::string err = read_device(*dev, pins, actual);
    if (!err.empty()) {
      return fail(err);
    }
    Expected& expected = expected_;
    std::string diffs;
    int match = -1;
    for (size_t i = 0; i < candidates.size(); ++i) {
      std::string d = model_diff(candidates[i], actual, expected);
      if (d.empty()) {
        match = static_cast<int>(i);
        break;
      }
      diffs += "\n  against the state " + std::string(i == 0 ? "before" : "after") +
               (pending ? " the cut-off " + pending->op : std::string()) + ":" + d;
    }
    if (match < 0) {
      return fail("the device holds neither allowed state (lost or half-written data):" + diffs);
    }
    if (pending && pending->op != "backup") {
      bool both =
          candidates.size() == 2 && model_diff(candidates[1 - match], actual, expected).empty();
      ++cut_[pending->op][both ? "same either way" : match == 1 ? "landed" : "not landed"];
    }
    model_ = candidates[static_cast<size_t>(match)];
    adopt(model_, actual);

    err = check_backup_files(*dev, pending_backup);
    if (!err.empty()) {
      return fail(err);
    }
    if (!pending_backup.empty() && !backups_known_.count(pending_backup)) {
      ++cut_["backup"]["no file"];
    }
    if (run_.saw_ready) {
      ++readies_;
      ready_ms_ += run_.ready_ms;
    }
  }

  std::string apply_done(const LogLine& l) {
    const auto& a = l.args;
    auto arg = [&](const char* k) { return a.count(k) ? a.at(k) : std::string(); };
    if (l.op == "create") {
      auto kind = kind_from_name(arg("kind"));
      auto handle = row_id(parse_u64(arg("handle")));
      if (!kind || !handle || arg("label") != label_for(l.n) || arg("uid").size() != 32) {
        return "a malformed create: " + l.text;
      }
      model_.objects[l.n] = Obj{*kind, label_for(l.n), *handle, arg("uid")};
    } else if (l.op == "destroy" || l.op == "setlabel") {
      auto of = parse_u64(arg("of"));
      auto handle = row_id(parse_u64(arg("handle")));
      if (!of || !handle || !model_.objects.count(*of) || model_.objects[*of].handle != *handle) {
        return "the workload changed an object the model does not hold: " + l.text;
      }
      if (l.op == "destroy") {
        model_.objects.erase(*of);
      } else {
        model_.objects[*of].label = arg("label");
      }
    } else if (l.op == "setpin") {
      if (arg("from") != std::to_string(model_.pin)) {
        return "a PIN change from a PIN the model does not have: " + l.text;
      }
      model_.pin = 1 - model_.pin;
    } else if (l.op == "backup") {
      std::string file = arg("file");
      if (backup_pin(file) != model_.pin || backups_known_.count(file)) {
        return "a backup with an unexpected name: " + l.text;
      }
      backups_known_[file] = BackupInfo{model_, false};
      ++backups_made_;
    } else if (l.op == "restore") {
      auto it = backups_known_.find(arg("file"));
      if (it == backups_known_.end()) {
        return "a restore of a backup the test does not know: " + l.text;
      }
      model_ = it->second.model;
    } else {
      return "an unknown operation: " + l.text;
    }
    return "";
  }

  // read_device authenticates every row and reads every object with the user logged in; checks
  // that the SO and the user (with one of pins) log in.
  std::string read_device(device::Device& dev, const std::set<int>& pins, Actual& actual) {
    try {
      dev.store().settings();  // every settings row authenticates
      if (dev.store().roles().size() != 2) {
        return "the store does not hold two roles";
      }
      if (dev.token().label() != kTokenLabel) {
        return "the token label is '" + dev.token().label() + "'";
      }
      for (int pin : pins) {
        try {
          dev.token().login(token::Role::user, as_bytes(kUserPins[pin]));
          actual.pin = pin;
          break;
        } catch (const token::CkError& e) {
          if (e.rv() != CKR_PIN_INCORRECT) {
            return std::string("the user login fails: ") + e.what();
          }
        }
      }
      if (actual.pin < 0) {
        return "the user logs in with neither allowed PIN";
      }
      std::vector<int64_t> ids;
      dev.store().for_each_object([&](const store::ObjectRow& row) { ids.push_back(row.id); });
      for (int64_t id : ids) {
        auto obj = dev.token().object(static_cast<CK_OBJECT_HANDLE>(id));
        std::string label = label_of(obj->attrs);
        auto n = label_owner(label);
        if (!n) {
          return "object " + std::to_string(id) + " has a label the workload never gave: '" +
                 label + "'";
        }
        if (actual.objects.count(*n)) {
          return "two objects of n " + std::to_string(*n);
        }
        actual.objects[*n] = Seen{static_cast<CK_OBJECT_HANDLE>(id), obj->attrs};
      }
      dev.token().logout();
      dev.token().login(token::Role::so, as_bytes(kSoPin));
      dev.token().logout();
      for (const auto& r : dev.store().roles()) {
        if (r.failures != 0) {
          return "role " + std::to_string(r.role) + " has " + std::to_string(r.failures) +
                 " failed logins after a successful one";
        }
      }
    } catch (const std::exception& e) {
      return "reading the device failed: " + error_kind(e) + ": " + e.what();
    }
    return "";
  }

  // verify_backup authenticates every chunk of a backup file and checks that it holds exactly
  // the rows of the model it was made from.
  std::string verify_backup(device::Device& dev, const std::string& name, const Model& model) {
    try {
      backup::BackupReader reader(backups_ / name);
      backup::check_restorable(dev, reader);
      std::set<int64_t> ids;
      size_t roles = 0;
      reader.for_each_record([&](const backup::Record& r) {
        if (r.type == backup::RecordType::object) {
          ids.insert(r.object.id);
        } else if (r.type == backup::RecordType::role) {
          ++roles;
        }
      });
      std::set<int64_t> want;
      for (const auto& [n, o] : model.objects) {
        want.insert(static_cast<int64_t>(o.handle));
      }
      if (ids != want || roles != 2) {
        return "backup " + name + " holds " + std::to_string(ids.size()) + " objects and " +
               std::to_string(roles) + " roles, not the " + std::to_string(want.size()) +
               " objects of the device when it was made";
      }
    } catch (const std::exception& e) {
      return "backup " + name + " does not verify: " + error_kind(e) + ": " + e.what();
    }
    ++backups_verified_;
    return "";
  }

  std::string check_backup_files(device::Device& dev, const std::string& pending) {
    std::set<std::string> present;
    for (const auto& e : fs::directory_iterator(backups_)) {
      std::string name = e.path().filename().string();
      if (name[0] == '.' && name.find(".tmp-") != std::string::npos) {
        if (temp_files_.insert(name).second) {
          ++temp_left_;
        }
        continue;
      }
      present.insert(name);
    }
    for (const std::string& name : present) {
      if (backups_known_.count(name)) {
        continue;
      }
      if (name != pending) {
        return "a file at a backup's final name that no backup made: " + name;
      }
      // The backup was cut off after its rename: it must be whole, and it is now a backup the
      // workload may restore.
      std::string err = verify_backup(dev, name, model_);
      if (!err.empty()) {
        return "a cut-off backup left a file at its final name that is not whole: " + err;
      }
      backups_known_[name] = BackupInfo{model_, true};
      ++cut_backup_renamed_;
      ++cut_["backup"]["renamed"];
    }
    for (auto& [name, info] : backups_known_) {
      if (!present.count(name)) {
        return "backup " + name + " was done but its file is gone";
      }
      if (!info.verified) {
        std::string err = verify_backup(dev, name, info.model);
        if (!err.empty()) {
          return err;
        }
        info.verified = true;
      }
    }
    return "";
  }

  // final_check verifies every backup again, then restores the last one made and checks the
  // device against it.
  void final_check() {
    auto dev = device::Device::open(dir_);
    for (const auto& [name, info] : backups_known_) {
      std::string err = verify_backup(*dev, name, info.model);
      if (!err.empty()) {
        return fail("at the end: " + err);
      }
    }
    (void)dev;
  }

  void report(double total_s) const {
    std::ostringstream out;
    out << "[crash] test seed " << seed_ << ": " << round_ << " rounds, " << kills_ << " SIGKILLs, "
        << total_s << " s (children " << child_ms_ / 1000 << " s, checks " << check_ms_ / 1000
        << " s)\n[crash] operations done:";
    for (const auto& [op, n] : ops_done_) {
      out << " " << op << " " << n;
    }
    out << "\n[crash] where the kills landed:";
    for (const auto& [phase, n] : kill_phase_) {
      out << " " << phase << " " << n << ";";
    }
    out << "\n[crash] cut-off operations:";
    for (const auto& [op, m] : cut_) {
      out << " " << op << " (";
      const char* sep = "";
      for (const auto& [outcome, n] : m) {
        out << sep << outcome << " " << n;
        sep = ", ";
      }
      out << ")";
    }
    out << "\n[crash] backups: " << backups_made_ << " done, " << cut_backup_renamed_
        << " cut off after their rename, " << backups_verified_ << " verifications, " << temp_left_
        << " temporary files left behind by kills; final n " << next_n_ << ", objects now "
        << model_.objects.size() << "; the workload is ready "
        << (readies_ ? ready_ms_ / readies_ : 0) << " ms after its spawn on average\n";
    std::cout << out.str() << std::flush;
  }

  TempDir tmp_;
  fs::path dir_, backups_;
  Model model_;
  Expected expected_;
  std::map<std::string, BackupInfo> backups_known_;
  uint64_t next_n_ = 1, first_n_ = 1;

  uint64_t seed_ = 0;
  int round_ = 0;
  uint64_t child_seed_ = 0;
  int delay_us_ = 0;
  bool from_spawn_ = false;
  RunResult run_;
  bool failed_ = false;

  int kills_ = 0;
  std::map<std::string, int> ops_done_;
  std::map<std::string, int> kill_phase_;
  std::map<std::string, std::map<std::string, int>> cut_;
  int backups_made_ = 0, backups_verified_ = 0, cut_backup_renamed_ = 0, temp_left_ = 0;
  std::set<std::string> temp_files_;
  double child_ms_ = 0, check_ms_ = 0;
  int readies_ = 0;
  double ready_ms_ = 0;
};

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

TEST(Crash, KilledAtRandomPointsLosesNothing) {
  int rounds = env_int("TWINHSM_CRASH_ROUNDS", 320);
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("TWINHSM_CRASH_SEED"); s && *s) {
    seed = std::strtoull(s, nullptr, 10);
  }
  std::cout << "[crash] seed " << seed << " (TWINHSM_CRASH_SEED), " << rounds
            << " rounds (TWINHSM_CRASH_ROUNDS)" << std::endl;
  CrashRun run;
  run.run(rounds, seed);
}

// The same on a TPM device (swtpm): every write also reads and increments the TPM's NV counter,
// every login asks the TPM, every backup and restore derives its KEK there, and a kill may land
// in any of those commands — or between a commit and its counter increment, which the next open
// must accept. TWINHSM_CRASH_TPM_ROUNDS (default 100) sets the number of kills.
TEST(Crash, KilledAtRandomPointsDuringTpmWritesLosesNothing) {
  int rounds = env_int("TWINHSM_CRASH_TPM_ROUNDS", 100);
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("TWINHSM_CRASH_SEED"); s && *s) {
    seed = std::strtoull(s, nullptr, 10);
  }
  std::cout << "[crash] TPM device, seed " << seed << " (TWINHSM_CRASH_SEED), " << rounds
            << " rounds (TWINHSM_CRASH_TPM_ROUNDS)" << std::endl;
  test::Swtpm tpm;
  {
    // The check tries both user PINs after a cut-off PIN change: wrong ones must not lock the
    // TPM out (swtpm allows 3, then one per 1000 s).
    tpm::Context ctx(tpm.tcti());
    tpm::set_lockout_parameters(ctx, 1000, 1, 1);
  }
  CrashRun run("tpm:" + tpm.tcti());
  run.run(rounds, seed);
}

// ---------------------------------------------------------------------------------------------
// A full disk: a 2 MB tmpfs holding the device.

token::AttributeMap fill_template(uint64_t i) {
  token::AttributeMap t;
  t.set_ulong(CKA_CLASS, CKO_DATA);
  t.set_bool(CKA_TOKEN, true);
  t.set_bool(CKA_PRIVATE, i % 2 == 1);
  std::string label = label_for(i);
  t.set(CKA_LABEL, as_bytes(label));
  Bytes value;
  for (int k = 0; k < 16; ++k) {
    append(value, value_for(i * 16 + static_cast<uint64_t>(k), Kind::data_public));
  }
  value.resize(6000);
  t.set(CKA_VALUE, ByteView(value));
  return t;
}

// check_objects checks that the device holds exactly the objects made (handle -> n), each with
// all its attributes; "" when it does.
std::string check_objects(device::Device& dev, const std::map<CK_OBJECT_HANDLE, uint64_t>& made,
                          const std::map<CK_OBJECT_HANDLE, token::AttributeMap>& attrs) {
  std::ostringstream out;
  try {
    std::vector<int64_t> ids;
    dev.store().for_each_object([&](const store::ObjectRow& r) { ids.push_back(r.id); });
    std::set<CK_OBJECT_HANDLE> seen;
    for (int64_t id : ids) {
      auto h = static_cast<CK_OBJECT_HANDLE>(id);
      seen.insert(h);
      if (!made.count(h)) {
        out << " object " << id << " was not made;";
        continue;
      }
      auto obj = dev.token().object(h);
      std::string d = attrs_diff(attrs.at(h), obj->attrs);
      if (!d.empty() ||
          obj->attrs.get_bytes(CKA_UNIQUE_ID) != attrs.at(h).get_bytes(CKA_UNIQUE_ID)) {
        out << " object " << id << " differs:" << d << ";";
      }
    }
    for (const auto& [h, n] : made) {
      if (!seen.count(h)) {
        out << " object " << h << " (n " << n << ") is lost;";
      }
    }
  } catch (const std::exception& e) {
    out << " reading the device failed: " << error_kind(e) << ": " << e.what();
  }
  return out.str();
}

class Mount {
 public:
  explicit Mount(fs::path at) : at_(std::move(at)) {}
  ~Mount() {
    if (::umount2(at_.c_str(), 0) != 0) {
      ::umount2(at_.c_str(), MNT_DETACH);
    }
  }

 private:
  fs::path at_;
};

TEST(Crash, FullDiskFailsCleanlyAndLosesNothing) {
  TempDir tmp;
  fs::path disk = tmp.path() / "disk";
  fs::create_directory(disk);
  if (::mount("tmpfs", disk.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "); needs root";
  }
  Mount mounted(disk);
  // Ballast, removed at the end to give the device room again.
  {
    std::ofstream ballast(disk / "ballast", std::ios::binary);
    std::string block(64 * 1024, 'b');
    for (int i = 0; i < 4; ++i) {
      ballast << block;
    }
  }
  fs::path dir = disk / "device";
  make_initialized_device(dir);
  auto dev = device::Device::open(dir);
  dev->token().login(token::Role::user, as_bytes(kUserPins[0]));

  std::map<CK_OBJECT_HANDLE, uint64_t> made;
  std::map<CK_OBJECT_HANDLE, token::AttributeMap> attrs;
  std::string error;
  uint64_t failed_n = 0;
  for (uint64_t i = 1; i <= 2000 && error.empty(); ++i) {
    token::AttributeMap a = complete_object(fill_template(i));
    try {
      auto obj = dev->token().create(a, true, 0);
      made[obj->handle] = i;
      attrs[obj->handle] = obj->attrs;
    } catch (const StoreError& e) {
      error = e.what();
      failed_n = i;
    } catch (const std::exception& e) {
      FAIL() << "create " << i << " on a full disk threw " << error_kind(e)
             << ", not StoreError: " << e.what();
    }
  }
  ASSERT_FALSE(error.empty()) << "2000 creates of 6 KB fitted into a 2 MB tmpfs";
  std::cout << "[crash] full disk: create " << failed_n << " failed after " << made.size()
            << " objects: StoreError: " << error << std::endl;
  EXPECT_NE(error.find("full"), std::string::npos) << error;

  // The failed object is not there, every earlier one is whole, in this process...
  EXPECT_EQ(check_objects(*dev, made, attrs), "");
  token::AttributeMap q;
  q.set(CKA_LABEL, as_bytes(label_for(failed_n)));
  EXPECT_TRUE(dev->token().find(q).empty()) << "the failed create left its object";

  // ...a second write fails the same way or succeeds, and a backup onto the full disk fails
  // without leaving a file.
  try {
    auto obj = dev->token().create(complete_object(fill_template(failed_n + 1)), true, 0);
    made[obj->handle] = failed_n + 1;
    attrs[obj->handle] = obj->attrs;
    std::cout << "[crash] full disk: a second create succeeded" << std::endl;
  } catch (const StoreError& e) {
    std::cout << "[crash] full disk: a second create: StoreError: " << e.what() << std::endl;
  }
  try {
    backup::AtomicFile out(disk / "full.twb", false);
    backup::write_backup(*dev, backup::CreateParams::random(), out, test::test_press());
    out.commit();
    ADD_FAILURE() << "a backup of a store that fills the disk fitted onto it";
  } catch (const UsageError& e) {
    std::cout << "[crash] full disk: backup: UsageError: " << e.what() << std::endl;
  }
  for (const auto& e : fs::directory_iterator(disk)) {
    std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "ballast" || name == "device") << "left on the full disk: " << name;
  }
  dev->token().logout();
  dev.reset();

  // ...and in a new process's view: open and log in while the disk is still full.
  try {
    auto again = device::Device::open(dir);
    again->token().login(token::Role::user, as_bytes(kUserPins[0]));
    EXPECT_EQ(check_objects(*again, made, attrs), "");
    std::cout << "[crash] full disk: reopened and logged in while full" << std::endl;
  } catch (const StoreError& e) {
    std::cout << "[crash] full disk: reopening or logging in while full: StoreError: " << e.what()
              << std::endl;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "reopening the full device threw " << error_kind(e) << ": " << e.what();
  }

  // Room again: everything is there and the device works.
  fs::remove(disk / "ballast");
  auto freed = device::Device::open(dir);
  freed->token().login(token::Role::user, as_bytes(kUserPins[0]));
  EXPECT_EQ(check_objects(*freed, made, attrs), "");
  auto obj = freed->token().create(complete_object(object_template(1, Kind::aes_private)), true, 0);
  made[obj->handle] = 0;
  attrs[obj->handle] = obj->attrs;
  EXPECT_EQ(check_objects(*freed, made, attrs), "");
  freed->token().logout();
  freed->token().login(token::Role::so, as_bytes(kSoPin));
  freed.reset();
}

// ---------------------------------------------------------------------------------------------
// A read-only device directory (dir 0500, store.db 0400), opened by a user other than root.

// store_rows is every row of the store as stored: equal strings mean an unchanged store.
std::string store_rows(device::Device& d) {
  std::string out;
  for (const auto& [k, v] : d.store().settings()) {
    out += k + "=" + to_hex(v) + ";";
  }
  for (const auto& r : d.store().roles()) {
    out +=
        "role" + std::to_string(r.role) + to_hex(r.wrapped_sk) + std::to_string(r.failures) + ";";
  }
  d.store().for_each_object([&](const store::ObjectRow& r) {
    out += std::to_string(r.id) + to_hex(r.body) + to_hex(r.secret) + ";";
  });
  return out;
}

void chown_tree(const fs::path& root, uid_t uid, gid_t gid) {
  ::lchown(root.c_str(), uid, gid);
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    ::lchown(e.path().c_str(), uid, gid);
  }
}

// read_only_case makes a device with 8 objects, then (crashed) a 9th by a process killed right
// after its create returned, so that the -wal and -shm files stay behind; makes the directory
// 0500 and store.db 0400 and has uid 65534 (its owner now) open the device, write, log in and
// read. Opening or writing must fail with a StoreError or UsageError that says what is read-only;
// afterwards, the directory given back, every object is there whole.
void read_only_case(bool crashed) {
  TempDir tmp;
  fs::path dir = tmp.path() / "device";
  make_initialized_device(dir);
  std::map<CK_OBJECT_HANDLE, uint64_t> made;
  std::map<CK_OBJECT_HANDLE, token::AttributeMap> attrs;
  std::string before;
  {
    auto dev = device::Device::open(dir);
    dev->token().login(token::Role::user, as_bytes(kUserPins[0]));
    for (uint64_t n = 1; n <= 8; ++n) {
      auto obj = dev->token().create(
          complete_object(object_template(n, static_cast<Kind>(n % kKinds))), true, 0);
      made[obj->handle] = n;
      attrs[obj->handle] = obj->attrs;
    }
    dev->token().logout();
    before = store_rows(*dev);
  }
  if (crashed) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto dev = device::Device::open(dir);
      dev->token().login(token::Role::user, as_bytes(kUserPins[0]));
      auto obj =
          dev->token().create(complete_object(object_template(9, Kind::aes_private)), true, 0);
      Bytes uid = obj->attrs.get_bytes(CKA_UNIQUE_ID);
      std::string line = std::to_string(obj->handle) + " " + std::string(uid.begin(), uid.end());
      (void)!::write(fds[1], line.data(), line.size());
      ::raise(SIGKILL);
    }
    ::close(fds[1]);
    char buf[256];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && n > 0) << "the writer did not get killed after its create";
    std::istringstream in(std::string(buf, static_cast<size_t>(n)));
    CK_OBJECT_HANDLE handle = 0;
    std::string uid;
    in >> handle >> uid;
    token::AttributeMap a = complete_object(object_template(9, Kind::aes_private));
    a.set(CKA_UNIQUE_ID, as_bytes(uid));
    made[handle] = 9;
    attrs[handle] = a;
    ASSERT_TRUE(fs::exists(dir / "store.db-wal")) << "the kill left no -wal file";
  }

  bool root = ::geteuid() == 0;
  constexpr uid_t kNobody = 65534;
  if (root) {
    chown_tree(tmp.path(), kNobody, kNobody);
  }
  fs::permissions(dir / device::Device::kStoreFile, fs::perms::owner_read);
  fs::permissions(dir / device::SecureElement::kFileName, fs::perms::owner_read);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string report;
    if (root && (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
                 ::setresuid(kNobody, kNobody, kNobody) != 0)) {
      report = "setup:cannot become nobody";
    } else {
      auto attempt = [&](const char* what, const std::function<void()>& f) {
        try {
          f();
          report += std::string(what) + ":ok\n";
          return true;
        } catch (const std::exception& e) {
          std::string m = e.what();
          std::replace(m.begin(), m.end(), '\n', ' ');
          report += std::string(what) + ":" + error_kind(e) + ":" + m + "\n";
          return false;
        }
      };
      std::unique_ptr<device::Device> d;
      if (attempt("open", [&] { d = device::Device::open(dir); })) {
        attempt("create", [&] {
          d->token().create(complete_object(object_template(100, Kind::data_public)), true, 0);
        });
        attempt("login", [&] { d->token().login(token::Role::user, as_bytes(kUserPins[0])); });
        attempt("read", [&] {
          size_t n = 0;
          d->store().for_each_object([&](const store::ObjectRow&) { ++n; });
          if (n != made.size()) {
            throw Error("read " + std::to_string(n) + " objects, not " +
                        std::to_string(made.size()));
          }
        });
      }
    }
    (void)!::write(fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string report;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
    report.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);

  // Give the directory back before any assertion can end the test.
  fs::permissions(dir, fs::perms::owner_all);
  fs::permissions(dir / device::Device::kStoreFile, fs::perms::owner_read | fs::perms::owner_write);
  if (root) {
    chown_tree(tmp.path(), 0, 0);
  }

  std::cout << "[crash] read-only directory" << (crashed ? " after a kill (-wal, -shm left)" : "")
            << (root ? ", as uid 65534" : "") << ":\n"
            << report << std::flush;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child crashed: " << status;
  ASSERT_EQ(report.rfind("setup:", 0), std::string::npos) << report;
  std::map<std::string, std::string> outcome;
  std::istringstream lines(report);
  std::string line;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    outcome[line.substr(0, colon)] = line.substr(colon + 1);
  }
  ASSERT_TRUE(outcome.count("open")) << report;
  auto clear_failure = [](const std::string& o) {
    // "StoreError:<message>" or "UsageError:<message>", the message saying what is read-only.
    return (o.rfind("StoreError:", 0) == 0 || o.rfind("UsageError:", 0) == 0) &&
           (o.find("readonly") != std::string::npos || o.find("read-only") != std::string::npos ||
            o.find("ermission") != std::string::npos ||
            o.find("unable to open") != std::string::npos);
  };
  if (outcome["open"] != "ok") {
    EXPECT_TRUE(clear_failure(outcome["open"])) << "open: " << outcome["open"];
  } else {
    EXPECT_TRUE(clear_failure(outcome["create"])) << "create: " << outcome["create"];
    EXPECT_EQ(outcome["read"], "ok") << "an open device could not read its objects";
  }

  auto dev = device::Device::open(dir);
  if (!crashed) {
    EXPECT_EQ(store_rows(*dev), before) << "the store changed";
  }
  dev->token().login(token::Role::user, as_bytes(kUserPins[0]));
  EXPECT_EQ(check_objects(*dev, made, attrs), "");
}

TEST(Crash, ReadOnlyDirectoryFailsClearlyAndLosesNothing) {
  read_only_case(false);
}

TEST(Crash, ReadOnlyDirectoryAfterAKillFailsClearlyAndLosesNothing) {
  read_only_case(true);
}

}  // namespace
}  // namespace twinhsm::crash
