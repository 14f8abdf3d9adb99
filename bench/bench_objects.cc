// pkcs11_bench's object and backup figures (pkcs11_bench.h): the bulk objects created in chunks
// (by worker processes when a chunk is large), finds among them, cold starts timed in a fresh
// process (the hidden mode --cold-start-child), what the store takes on disk, and twinhsm's
// backup create and restore with their peak memory.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_backends.h"
#include "bench_processes.h"
#include "bench_support.h"
#include "pkcs11_bench.h"

namespace bench {

// ---- the reference device for the finds ----

P11Backend& Bench::reference_1000() {
  if (twinhsm_1000_) {
    return *twinhsm_1000_;
  }
  namespace fs = std::filesystem;
  fs::path dir = root_->path() / "twinhsm-1000";
  progress("twinhsm: a second device with 1,000 + 1,000 objects, for the finds side by side");
  run_checked({o_.twinhsm_cli, "factory", "personalize", "--device", dir.string(), "--master-key",
               (root_->path() / "master.key").string(), "--diversifier", "bench-1000",
               "--pbkdf2-iterations", std::to_string(o_.pbkdf2_iterations)});
  run_checked({o_.twinhsm_cli, "token", "init", "--device", dir.string(), "--label", "bench-1000",
               "--so-pin", data_->so_pin, "--pin", data_->user_pin});
  // A copy of the module is loaded apart from the one under test (its own library state and
  // configuration: this device only), in the same process.
  fs::path module = root_->path() / "reference" / "libtwinhsm.so";
  fs::create_directories(module.parent_path());
  fs::copy_file(o_.twinhsm_module, module, fs::copy_options::overwrite_existing);
  fs::path conf = root_->path() / "twinhsm-1000.toml";
  write_file(conf, "[[slot]]\ndevice = \"" + dir.string() + "\"\n");
  std::string saved = std::getenv("TWINHSM_CONF") ? std::getenv("TWINHSM_CONF") : "";
  setenv("TWINHSM_CONF", conf.c_str(), 1);
  twinhsm_1000_ = std::make_unique<P11Backend>(kTw, module.string(), "bench-1000", *data_);
  setenv("TWINHSM_CONF", saved.c_str(), 1);
  twinhsm_1000_->create_objects(0, 1000);
  twinhsm_1000_->create_public_objects(0, 1000);
  return *twinhsm_1000_;
}

// ---- cold start ----

int cold_start_child(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(
        stderr, "usage: pkcs11_bench --cold-start-child MODULE SLOT PIN LABEL PBKDF2_ITERATIONS\n");
    return 2;
  }
  try {
    std::string pin = argv[4];
    std::string label = argv[5];
    CK_SLOT_ID slot = std::strtoul(argv[3], nullptr, 10);
    auto t = Clock::now();
    Module m(argv[2]);
    CK_FUNCTION_LIST* f = m.f();
    double t_load = seconds_since(t);
    double cpu0 = thread_cpu_seconds();
    t = Clock::now();
    initialize(f);
    double t_init = seconds_since(t);
    t = Clock::now();
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    check(f->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s), "C_OpenSession");
    double t_open = seconds_since(t);
    t = Clock::now();
    check(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin.data(), pin.size()), "C_Login");
    double t_login = seconds_since(t);
    t = Clock::now();
    CK_ATTRIBUTE a{CKA_LABEL, label.data(), label.size()};
    check(f->C_FindObjectsInit(s, &a, 1), "C_FindObjectsInit");
    CK_OBJECT_HANDLE found[2];
    CK_ULONG count = 0;
    check(f->C_FindObjects(s, found, 2, &count), "C_FindObjects");
    check(f->C_FindObjectsFinal(s), "C_FindObjectsFinal");
    double t_find = seconds_since(t);
    double cpu_steps = thread_cpu_seconds() - cpu0;
    if (count != 1) {
      throw std::runtime_error("the first find gave " + std::to_string(count) + " objects");
    }
    // The PBKDF2 of the login, timed here, in the same process and moment, so that the cold
    // start minus PBKDF2 does not depend on how busy the machine was elsewhere in the run.
    unsigned iterations = static_cast<unsigned>(std::strtoul(argv[6], nullptr, 10));
    double t_pbkdf2 = 0, cpu_pbkdf2 = 0;
    if (iterations > 0) {
      Timing tp = time_both([&] { pbkdf2_sha256(pin, iterations); });
      t_pbkdf2 = tp.wall;
      cpu_pbkdf2 = tp.cpu;
    }
    std::printf("%.9f %.9f %.9f %.9f %.9f %.9f %.9f %.9f\n", t_load, t_init, t_open, t_login,
                t_find, t_pbkdf2, cpu_steps, cpu_pbkdf2);
    std::fflush(stdout);
    f->C_Finalize(nullptr);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cold start: %s\n", e.what());
    return 1;
  }
}

namespace {

struct ColdStart {
  double load, init, open, login, find, pbkdf2, cpu, cpu_pbkdf2;
  double total() const { return init + open + login + find; }
};

ColdStart cold_start(const P11Backend& p, const std::string& pin, const std::string& label,
                     unsigned pbkdf2_iterations) {
  ChildResult r =
      run_process({"/proc/self/exe", "--cold-start-child", p.module_path(),
                   std::to_string(p.slot()), pin, label, std::to_string(pbkdf2_iterations)},
                  false);
  ColdStart c{};
  if (r.exit_code != 0 ||
      std::sscanf(r.out.c_str(), "%lf %lf %lf %lf %lf %lf %lf %lf", &c.load, &c.init, &c.open,
                  &c.login, &c.find, &c.pbkdf2, &c.cpu, &c.cpu_pbkdf2) != 8) {
    throw std::runtime_error("cold-start child failed (exit " + std::to_string(r.exit_code) +
                             "): " + r.out);
  }
  return c;
}

}  // namespace

// ---- objects and backups ----

// create_chunk makes the bulk objects [from, to) of one kind in impl's token and returns the
// seconds it took: in the benchmark's session, or by o_.fill_processes worker processes at once
// when the chunk is large.
double Bench::create_chunk(Impl& impl, size_t from, size_t to, bool private_objects) {
  const char* kind = private_objects ? "objects" : "public objects";
  if (to - from < o_.fill_min || o_.fill_processes < 2) {
    progress("%s: creating %s %zu..%zu", impl.name.c_str(), kind, from, to);
    return time_once([&] {
      private_objects ? impl.p11->create_objects(from, to)
                      : impl.p11->create_public_objects(from, to);
    });
  }
  progress("%s: creating %s %zu..%zu in %u processes", impl.name.c_str(), kind, from, to,
           o_.fill_processes);
  Workers workers("/proc/self/exe", impl.p11->module_path(), impl.p11->slot(), data_->user_pin,
                  std::vector<std::string>(o_.fill_processes, "bench-fill-"));
  double s = time_once([&] { workers.fill(from, to, private_objects); });
  impl.p11->filled(to, private_objects);
  return s;
}

void Bench::bench_objects(size_t n, size_t previous) {
  std::string ns = n_str(n);
  std::string sec = "objects N=" + ns;
  // The chunks are (n - previous) / rounds objects: create_chunk gives large ones to workers.
  std::string how =
      (n - previous) / static_cast<size_t>(o_.rounds) >= o_.fill_min && o_.fill_processes > 1
          ? std::to_string(o_.fill_processes) + " processes"
          : "C_CreateObject";
  Row& create =
      results_.row("create-" + std::to_string(n), sec,
                   "create private token objects (" + how + "), " + n_str(previous) + " -> " + ns,
                   "objects/s", true);
  Row& create_public =
      results_.row("create-public-" + std::to_string(n), sec,
                   "create public token objects (" + how + "), " + n_str(previous) + " -> " + ns,
                   "objects/s", true);
  // The finds (issue 16): private objects under the keys label, id, class-id; public ones under
  // pub-label, pub-id, pub-class-id.
  // Beyond 1,000 objects twinhsm's finds are also timed among the reference device's 1,000,
  // each sample right after the one among n (reference_1000).
  bool beside = n > 1000 && impl(kTw) != nullptr && impl(kTw)->p11 != nullptr;
  struct FindRow {
    FindBy by;
    bool priv;
    Row* row;
    Row* beside = nullptr;  // among the reference device's 1,000, timed alongside
  };
  std::vector<FindRow> finds;
  for (bool priv : {true, false}) {
    for (FindBy by : {FindBy::label, FindBy::id, FindBy::class_id}) {
      std::string key = by == FindBy::label ? "label" : by == FindBy::id ? "id" : "class-id";
      std::string what = by == FindBy::label ? "CKA_LABEL"
                         : by == FindBy::id  ? "CKA_ID"
                                             : "CKA_CLASS+CKA_ID";
      std::string name = (priv ? "" : "pub-") + key + "-";
      std::string kind = priv ? " private" : " public";
      FindRow fr{by, priv,
                 &results_.row(name + std::to_string(n), sec,
                               "find 1 by " + what + " among " + ns + kind, "lookups/s", true)};
      if (beside) {
        fr.beside =
            &results_.row(name + "1000-beside-" + std::to_string(n), sec,
                          "  the same among 1,000" + kind + ", timed alongside", "lookups/s", true);
        for (const Impl& i : impls_) {
          if (i.name != kTw) {
            fr.beside->na[i.name] = "twinhsm's";
          }
        }
      }
      finds.push_back(fr);
    }
  }
  Row& cold =
      results_.row("cold-" + std::to_string(n), sec,
                   "cold start: C_Initialize+OpenSession+Login+first find, " + ns, "ms", false);
  Row& cold_init =
      results_.row("cold-init-" + std::to_string(n), sec, "  of which C_Initialize", "ms", false);
  Row& cold_open =
      results_.row("cold-open-" + std::to_string(n), sec, "  of which C_OpenSession", "ms", false);
  Row& cold_login =
      results_.row("cold-login-" + std::to_string(n), sec, "  of which C_Login", "ms", false);
  Row& cold_find =
      results_.row("cold-find-" + std::to_string(n), sec, "  of which the first find", "ms", false);
  Row& cold_net = results_.row("cold-net-" + std::to_string(n), sec,
                               "cold start minus PBKDF2 (twinhsm; SoftHSMv2: as is)", "ms", false);
  Row& cold_pbkdf2 = results_.row("cold-pbkdf2-" + std::to_string(n), sec,
                                  "  PBKDF2 alone, same process, right after", "ms", false);
  Row& cold_cpu = results_.row("cold-cpu-" + std::to_string(n), sec,
                               "cold start minus PBKDF2, CPU time", "ms", false);
  Row& found = results_.row("found-" + std::to_string(n), sec,
                            "bulk objects found by CKA_CLASS afterwards, of " + n_str(2 * n),
                            "objects", true);
  Row& store =
      results_.row("store-" + std::to_string(n), sec,
                   "store on disk (every file of the device / token directory)", "MiB", false);
  Row& per_object =
      results_.row("store-per-object-" + std::to_string(n), sec,
                   "  per object (" + n_str(n) + " private + " + ns + " public)", "bytes", false);
  std::vector<Row*> all = {&create,     &create_public, &cold,      &cold_init,   &cold_open,
                           &cold_login, &cold_find,     &cold_net,  &cold_pbkdf2, &cold_cpu,
                           &found,      &store,         &per_object};
  for (const FindRow& fr : finds) {
    all.push_back(fr.row);
    if (fr.beside != nullptr) {
      all.push_back(fr.beside);
    }
  }

  std::vector<Impl*> active;
  for (Impl& i : impls_) {
    std::string why;
    if (!i.p11) {
      why = "no token";
    } else if (i.name == kSoft && n > o_.softhsm_max_n) {
      why = "beyond --softhsm-max-n " + std::to_string(o_.softhsm_max_n);
    }
    if (why.empty()) {
      active.push_back(&i);
    } else {
      for (Row* row : all) {
        row->na[i.name] = why;
      }
    }
  }
  std::vector<Impl> act;
  for (Impl* i : active) {
    act.push_back(*i);
  }

  for (Impl* i : active) {
    if (!own_keys_.count(i->name)) {
      own_keys_[i->name] = named(*i, [&] { return i->p11->count_secret_keys(); });
    }
  }
  // Fill from what each token holds to n, in one chunk per round.
  for (int r = 0; r < o_.rounds; ++r) {
    for (Impl* i : order(act, r)) {
      size_t chunk =
          previous + (n - previous) * static_cast<size_t>(r) / static_cast<size_t>(o_.rounds);
      size_t from = std::max(i->p11->objects(), chunk);
      size_t to =
          previous + (n - previous) * static_cast<size_t>(r + 1) / static_cast<size_t>(o_.rounds);
      if (r == o_.rounds - 1) {
        to = n;
      }
      if (to > from) {
        probe_disk();
        double s = named(*i, [&] { return create_chunk(*i, from, to, true); });
        create.samples[i->name].push_back(static_cast<double>(to - from) / s);
      }
      from = std::max(i->p11->public_objects(), chunk);
      if (to > from) {
        double s = named(*i, [&] { return create_chunk(*i, from, to, false); });
        create_public.samples[i->name].push_back(static_cast<double>(to - from) / s);
      }
    }
  }
  // Every object created is there, and what the store takes on disk for them.
  for (Impl* i : active) {
    progress("%s: counting the objects", i->name.c_str());
    size_t keys = named(*i, [&] { return i->p11->count_secret_keys(); });
    found.samples[i->name].push_back(static_cast<double>(keys - own_keys_[i->name]));
    auto dir = store_dirs_.find(i->name);
    if (dir == store_dirs_.end()) {
      store.na[i->name] = per_object.na[i->name] = "directory unknown";
      continue;
    }
    double bytes = static_cast<double>(directory_size(dir->second));
    store.samples[i->name].push_back(bytes / (1 << 20));
    per_object.samples[i->name].push_back(bytes / static_cast<double>(2 * n));
  }
  // The find lines are lookups in steady state: another process's commit (the fill workers'
  // logins) drops twinhsm's tag index, which a later find loads again (after some 4 + rows / 32
  // finds from the store: docs/performance.md); that happens here, untimed.
  for (Impl* i : active) {
    if (i->name == kTw) {
      progress("%s: finds before timing (the tag index loads)", i->name.c_str());
      for (const FindRow& fr : finds) {
        Op op = i->p11->find_op(fr.by, fr.priv, n);
        for (size_t k = 0; k < n / 16 + 64; ++k) {
          op.run();
        }
        if (fr.beside != nullptr) {
          Op near = reference_1000().find_op(fr.by, fr.priv, 1000);
          for (size_t k = 0; k < 1000 / 16 + 64; ++k) {
            near.run();
          }
        }
      }
    }
  }
  // Every round of finds before the cold starts: a cold start's login is another process's
  // commit, after which twinhsm's tag index is loaded again (docs/performance.md, issue 16); the
  // find lines are lookups in steady state, that cost is stated apart.
  for (int r = 0; r < o_.rounds; ++r) {
    progress("finds among %zu objects, round %d/%d", n, r + 1, o_.rounds);
    for (Impl* i : order(act, r)) {
      named(*i, [&] {
        for (const FindRow& fr : finds) {
          Op op = i->p11->find_op(fr.by, fr.priv, n);
          fr.row->samples[i->name].push_back(rate({op.run}, o_.sample_seconds));
          if (fr.beside != nullptr && i->name == kTw) {
            Op near = reference_1000().find_op(fr.by, fr.priv, 1000);
            fr.beside->samples[i->name].push_back(rate({near.run}, o_.sample_seconds));
          }
        }
      });
    }
  }
  for (int r = 0; r < o_.rounds; ++r) {
    progress("cold starts among %zu objects, round %d/%d", n, r + 1, o_.rounds);
    for (Impl* i : order(act, r)) {
      ColdStart c = named(*i, [&] {
        return cold_start(*i->p11, data_->user_pin,
                          object_label((n / 2 + 7919 * static_cast<size_t>(r)) % n),
                          i->name == kTw ? o_.pbkdf2_iterations : 0);
      });
      cold.samples[i->name].push_back(c.total() * 1000);
      cold_init.samples[i->name].push_back(c.init * 1000);
      cold_open.samples[i->name].push_back(c.open * 1000);
      cold_login.samples[i->name].push_back(c.login * 1000);
      cold_find.samples[i->name].push_back(c.find * 1000);
      cold_net.samples[i->name].push_back((c.total() - c.pbkdf2) * 1000);
      cold_cpu.samples[i->name].push_back((c.cpu - c.cpu_pbkdf2) * 1000);
      if (i->name == kTw) {
        cold_pbkdf2.samples[i->name].push_back(c.pbkdf2 * 1000);
      } else {
        cold_pbkdf2.na[i->name] = "";
      }
    }
  }
}

void Bench::bench_backup(size_t n) {
  std::string ns = n_str(n);
  std::string sec = "backup N=" + ns;
  Row& create = results_.row("backup-" + std::to_string(n), sec,
                             "twinhsm backup create, " + ns + " objects", "s", false);
  Row& create_mem =
      results_.row("backup-mem-" + std::to_string(n), sec, "  peak RSS", "MiB", false);
  Row& restore = results_.row("restore-" + std::to_string(n), sec,
                              "twinhsm backup restore (to the twin)", "s", false);
  Row& restore_mem =
      results_.row("restore-mem-" + std::to_string(n), sec, "  peak RSS", "MiB", false);
  Row& size =
      results_.row("backup-size-" + std::to_string(n), sec, "  backup file size", "MiB", false);
  for (Row* row : {&create, &create_mem, &restore, &restore_mem, &size}) {
    for (Impl& i : impls_) {
      if (i.name != kTw) {
        row->na[i.name] = i.name == kSoft ? "no backup" : "no token";
      }
    }
  }
  if (!twinhsm_) {
    return;
  }
  auto file = root_->path() / ("backup-" + std::to_string(n) + ".twb");
  for (int r = 0; r < o_.rounds; ++r) {
    progress("twinhsm backup create and restore of %zu objects, round %d/%d", n, r + 1, o_.rounds);
    auto log = root_->path() / "cli.log";
    ChildResult c =
        run_measured({o_.twinhsm_cli, "backup", "create", "--device",
                      (root_->path() / "twinhsm").string(), "-o", file.string(), "--force"},
                     log);
    ChildResult s = run_measured({o_.twinhsm_cli, "backup", "restore", "--device",
                                  (root_->path() / "twin").string(), file.string(), "--force"},
                                 log);
    create.samples[kTw].push_back(c.seconds);
    create_mem.samples[kTw].push_back(static_cast<double>(c.max_rss_kib) / 1024);
    restore.samples[kTw].push_back(s.seconds);
    restore_mem.samples[kTw].push_back(static_cast<double>(s.max_rss_kib) / 1024);
    size.samples[kTw].push_back(static_cast<double>(std::filesystem::file_size(file)) / (1 << 20));
  }
}

}  // namespace bench
