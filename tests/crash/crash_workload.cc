// crash_workload DEVICE_DIR BACKUP_DIR SEED FIRST_N PIN
//
// Opens the device, logs the user in with crash::kUserPins[PIN], and runs random operations until
// it is killed: create a token object, destroy one, change a label, change the user PIN, write a
// backup, restore a backup. Each operation is logged on stdout as "begin N OP ARGS" before it
// starts and "done N OP ARGS" after it returned, each line one write(2), so that the line is in
// the pipe before the next step whatever moment the process is killed at. Operations are
// numbered from FIRST_N; object N is made from N alone (crash_common.h). Any error ends the
// process with "fail N OP MESSAGE" and exit status 2.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backup/atomic_file.h"
#include "backup/create.h"
#include "backup/reader.h"
#include "backup/restore.h"
#include "crash_common.h"
#include "device/device.h"
#include "test_press.h"
#include "token/ck_error.h"

namespace twinhsm::crash {
namespace {

void emit(const std::string& line) {
  std::string s = line + "\n";
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(STDOUT_FILENO, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      std::_Exit(3);  // the test went away
    }
    done += static_cast<size_t>(n);
  }
}

struct Held {
  CK_OBJECT_HANDLE handle;
  uint64_t n;
};

class Workload {
 public:
  Workload(std::filesystem::path dir, std::filesystem::path backups, uint64_t seed, uint64_t first,
           int pin)
      : dir_(std::move(dir)), backups_(std::move(backups)), rng_(seed), n_(first), pin_(pin) {}

  int run() {
    std::string op = "open";
    try {
      device_ = device::Device::open(dir_);
      op = "login";
      token().login(token::Role::user, as_bytes(kUserPins[pin_]));
      op = "list";
      list_objects();
      list_backups();
      emit("ready " + std::to_string(n_));
      for (;; ++n_) {
        op = choose();
        if (op == "create") {
          create();
        } else if (op == "destroy") {
          destroy();
        } else if (op == "setlabel") {
          set_label();
        } else if (op == "setpin") {
          set_pin();
        } else if (op == "backup") {
          make_backup();
        } else {
          restore();
        }
      }
    } catch (const std::exception& e) {
      std::string what = e.what();
      std::replace(what.begin(), what.end(), '\n', ' ');
      emit("fail " + std::to_string(n_) + " " + op + " " + what);
      return 2;
    }
  }

 private:
  token::Token& token() { return device_->token(); }

  size_t pick(size_t count) { return std::uniform_int_distribution<size_t>(0, count - 1)(rng_); }

  std::string choose() {
    // Weights keep the store between a handful and a few dozen objects.
    size_t objects = held_.size();
    std::vector<std::pair<const char*, int>> w = {
        {"create", objects < 45 ? 34 : 6},
        {"destroy", objects == 0   ? 0
                    : objects > 30 ? 34
                                   : 14},
        {"setlabel", objects == 0 ? 0 : 20},
        {"setpin", 8},
        {"backup", 9},
        {"restore", complete_backups_.empty() ? 0 : 6},
    };
    int total = 0;
    for (const auto& [name, weight] : w) {
      total += weight;
    }
    int r = std::uniform_int_distribution<int>(0, total - 1)(rng_);
    for (const auto& [name, weight] : w) {
      if (r < weight) {
        return name;
      }
      r -= weight;
    }
    return "create";
  }

  std::string head(const char* what, const std::string& op) {
    return std::string(what) + " " + std::to_string(n_) + " " + op;
  }

  void list_objects() {
    held_.clear();
    for (CK_OBJECT_HANDLE h : token().find(token::AttributeMap())) {
      auto obj = token().object(h);
      Bytes label = obj->attrs.get_bytes(CKA_LABEL);
      auto owner = label_owner(std::string(label.begin(), label.end()));
      if (!owner) {
        throw UsageError("an object with a label the workload did not make");
      }
      held_.push_back({h, *owner});
    }
  }

  void list_backups() {
    complete_backups_.clear();
    for (const auto& e : std::filesystem::directory_iterator(backups_)) {
      std::string name = e.path().filename().string();
      if (backup_pin(name)) {
        complete_backups_.push_back(name);
      }
    }
    std::sort(complete_backups_.begin(), complete_backups_.end());
  }

  void create() {
    auto kind = static_cast<Kind>(pick(kKinds));
    std::string args = std::string(" kind=") + kind_name(kind) + " label=" + label_for(n_);
    token::AttributeMap attrs = complete_object(object_template(n_, kind));
    emit(head("begin", "create") + args);
    token::ObjectPtr obj = token().create(std::move(attrs), true, 0);
    Bytes uid = obj->attrs.get_bytes(CKA_UNIQUE_ID);
    emit(head("done", "create") + args + " handle=" + std::to_string(obj->handle) +
         " uid=" + std::string(uid.begin(), uid.end()));
    held_.push_back({obj->handle, n_});
  }

  void destroy() {
    size_t i = pick(held_.size());
    std::string args =
        " of=" + std::to_string(held_[i].n) + " handle=" + std::to_string(held_[i].handle);
    emit(head("begin", "destroy") + args);
    token::ObjectPtr obj = token().object(held_[i].handle);
    token::require(obj->attrs.get_bool(CKA_DESTROYABLE, true), CKR_ACTION_PROHIBITED,
                   "the object has CKA_DESTROYABLE false");
    token().destroy(*obj);
    emit(head("done", "destroy") + args);
    held_.erase(held_.begin() + static_cast<long>(i));
  }

  void set_label() {
    size_t i = pick(held_.size());
    std::string label = relabel_for(held_[i].n, n_);
    std::string args = " of=" + std::to_string(held_[i].n) +
                       " handle=" + std::to_string(held_[i].handle) + " label=" + label;
    emit(head("begin", "setlabel") + args);
    // C_SetAttributeValue (pkcs11/objects.cc).
    token::ObjectPtr obj = token().object(held_[i].handle);
    token::AttributeMap changes;
    changes.set(CKA_LABEL, as_bytes(label));
    token::check_change(obj->attrs, changes, false);
    token::AttributeMap attrs = obj->attrs;
    for (const auto& [type, value] : changes) {
      attrs.set(type, value);
    }
    token().replace(*obj, std::move(attrs));
    emit(head("done", "setlabel") + args);
  }

  void set_pin() {
    int to = 1 - pin_;
    std::string args = " from=" + std::to_string(pin_) + " to=" + std::to_string(to);
    emit(head("begin", "setpin") + args);
    token().set_pin(token::Role::user, as_bytes(kUserPins[pin_]), as_bytes(kUserPins[to]));
    emit(head("done", "setpin") + args);
    pin_ = to;
  }

  void make_backup() {
    std::string name = backup_name(n_, pin_);
    std::string args = " file=" + name;
    emit(head("begin", "backup") + args);
    backup::AtomicFile out(backups_ / name, false);
    backup::write_backup(*device_, backup::CreateParams::random(), out, test::test_press());
    out.commit();
    emit(head("done", "backup") + args);
    complete_backups_.push_back(name);
  }

  void restore() {
    const std::string name = complete_backups_[pick(complete_backups_.size())];
    std::string args = " file=" + name;
    emit(head("begin", "restore") + args);
    backup::BackupReader reader(backups_ / name);
    backup::check_restorable(*device_, reader);
    backup::restore(*device_, reader, test::test_press());
    emit(head("done", "restore") + args);
    // The restored token has the backup's user PIN and a new generation: log in again.
    pin_ = *backup_pin(name);
    token().logout();
    token().login(token::Role::user, as_bytes(kUserPins[pin_]));
    list_objects();
  }

  std::filesystem::path dir_, backups_;
  std::mt19937_64 rng_;
  uint64_t n_;
  int pin_;
  std::unique_ptr<device::Device> device_;
  std::vector<Held> held_;
  std::vector<std::string> complete_backups_;
};

}  // namespace
}  // namespace twinhsm::crash

int main(int argc, char** argv) {
  using twinhsm::crash::parse_u64;
  if (argc != 6) {
    const char usage[] = "usage: crash_workload DEVICE_DIR BACKUP_DIR SEED FIRST_N PIN\n";
    (void)!::write(STDERR_FILENO, usage, sizeof usage - 1);
    return 64;
  }
  auto seed = parse_u64(argv[3]);
  auto first = parse_u64(argv[4]);
  auto pin = parse_u64(argv[5]);
  if (!seed || !first || !pin || *pin > 1) {
    return 64;
  }
  twinhsm::crash::Workload w(argv[1], argv[2], *seed, *first, static_cast<int>(*pin));
  return w.run();
}
