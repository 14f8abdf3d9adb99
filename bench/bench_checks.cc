// pkcs11_bench's "Done when" lines (pkcs11_bench.h): issue 5's and 16's criteria judged on this
// run's figures, each PASS, FAIL, or ---- when the run did not measure it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_support.h"
#include "pkcs11_bench.h"

namespace bench {

namespace {

// check_line prints one "Done when" criterion: PASS, FAIL, or ---- when it was not measured.
void check_line(bool measured, bool ok, const std::string& what, const std::string& figures) {
  std::printf("  [%s] %s: %s\n",
              !measured ? "----"
              : ok      ? "PASS"
                        : "FAIL",
              what.c_str(), figures.c_str());
}

// measured_sizes returns the smallest and the largest N of sizes with a figure in the row
// prefix + N for twinhsm, {0, 0} when there is none.
std::pair<size_t, size_t> measured_sizes(Results& results, const std::vector<size_t>& sizes,
                                         const std::string& prefix) {
  size_t small = 0, big = 0;
  for (size_t n : sizes) {
    if (!std::isnan(results.value(prefix + std::to_string(n), kTw))) {
      big = std::max(big, n);
      small = small ? std::min(small, n) : n;
    }
  }
  return {small, big};
}

}  // namespace

// million_checks prints issue 16's "a million objects" criteria at the largest N of the objects
// (n) and of the backups (backup_n), memory against the smallest backup (backup_small).
void Bench::million_checks(size_t n, size_t backup_n, size_t backup_small) {
  std::string at = n >= 1000000 ? ""
                   : n          ? " [at " + n_str(n) + "; the target is at 1,000,000]"
                                : "";
  std::string ns = n_str(n ? n : 1000000), k = std::to_string(n);
  double made = n ? results_.value("found-" + k, kTw) : std::nan("");
  double priv = n ? results_.value("create-" + k, kTw) : std::nan("");
  double pub = n ? results_.value("create-public-" + k, kTw) : std::nan("");
  bool m = !std::isnan(made) && !std::isnan(priv);
  check_line(m, m && made == 2.0 * static_cast<double>(n),
             "create " + ns + " private and " + ns +
                 " public token objects, each on disk when C_CreateObject returns" + at,
             m ? format_value(priv) + " and " + format_value(pub) +
                     " objects/s (one commit and WAL fsync each); " +
                     n_str(static_cast<size_t>(made)) + " of " + n_str(2 * n) +
                     " found afterwards by CKA_CLASS"
               : "not measured");
  double net = n ? results_.value("cold-net-" + k, kTw) : std::nan("");
  m = !std::isnan(net);
  check_line(m, m && net < 50,
             "cold start + first find with " + ns + " objects < 50 ms + PBKDF2" + at,
             m ? format_value(net) + " ms beyond the PBKDF2 (total " +
                     format_value(results_.value("cold-" + k, kTw)) + " ms)"
               : "not measured");
  std::string bat = backup_n >= 1000000 ? ""
                    : backup_n ? " [at " + n_str(backup_n) + "; the target is at 1,000,000]"
                               : "";
  std::string bk = std::to_string(backup_n), bs = std::to_string(backup_small);
  for (auto [what, limit] : {std::pair{"backup", 30.0}, {"restore", 60.0}}) {
    std::string w = what;
    double sec = backup_n ? results_.value(w + "-" + bk, kTw) : std::nan("");
    double mem = backup_n ? results_.value(w + "-mem-" + bk, kTw) : std::nan("");
    double mem0 = backup_small ? results_.value(w + "-mem-" + bs, kTw) : std::nan("");
    bool mb = !std::isnan(sec) && !std::isnan(mem) && !std::isnan(mem0) && backup_n != backup_small;
    check_line(
        mb, mb && sec < limit && mem <= 2 * mem0,
        w + " of " + n_str(backup_n ? backup_n : 1000000) + " objects < " + format_value(limit) +
            " s, peak memory <= 2x at " + n_str(backup_small) + bat,
        mb ? format_value(sec) + " s, " + format_value(mem) + " vs " + format_value(mem0) + " MiB"
           : "not measured");
  }
  double per = n ? results_.value("store-per-object-" + k, kTw) : std::nan("");
  m = !std::isnan(per);
  check_line(m, m, "store size per object stated" + at,
             m ? format_value(per) + " bytes per object (" +
                     format_value(results_.value("store-" + k, kTw)) + " MiB for " + n_str(2 * n) +
                     " objects; SoftHSMv2: " +
                     format_value(results_.value("store-per-object-" + k, kSoft)) + " bytes)"
               : "not measured");
}

// checks prints issue 5's and 16's "Done when" criteria against this run's figures.
void Bench::checks() {
  std::printf("\nissue 5 and 16 \"Done when\" (this run):\n");
  const auto line = check_line;
  auto ratio_check = [&](const std::string& key, const std::string& what, double min) {
    double t = results_.value(key, kTw), s = results_.value(key, kOssl);
    Row* row = results_.find(key);
    double q = row ? ratio(*row, kTw, kOssl) : std::nan("");
    bool m = !std::isnan(q);
    line(m, m && q >= min, what + " >= " + format_ratio(min) + " raw OpenSSL",
         m ? format_ratio(q) + " (" + format_value(t) + " vs " + format_value(s) + " " + row->unit +
                 ")"
           : "not measured");
  };
  ratio_check("rsa", "RSA-2048 sign", 0.95);
  ratio_check("ecdsa", "ECDSA P-256 sign", 0.90);
  ratio_check("gcm", "AES-256-GCM 1 MiB", 0.90);
  ratio_check("hmac", "HMAC-SHA256 1 KiB", 0.95);
  ratio_check("cbc", "AES-256-CBC-PAD 1 MiB", 0.95);
  ratio_check("sha256", "SHA-256 64 B through C_Digest", 0.80);
  for (auto [key, what, min] : {std::tuple{"getattr", "C_GetAttributeValue(CKA_LABEL)", 1e6},
                                std::tuple{"session", "C_OpenSession + C_CloseSession", 2e5}}) {
    double t = results_.value(key, kTw), soft = results_.value(key, kSoft);
    bool m = !std::isnan(t);
    line(m, m && t >= min, std::string(what) + " >= " + format_value(min) + "/s",
         m ? format_value(t) + "/s (SoftHSMv2: " + format_value(soft) + "/s)" : "not measured");
  }
  for (const char* a : {"rsa", "ecdsa"}) {
    double t = results_.value(std::string("scaling-") + a, kTw);
    double ref = results_.value(std::string("scaling-") + a, kOssl);
    bool m = !std::isnan(t);
    line(m, m && t >= 1.8,
         std::string(a == std::string("rsa") ? "RSA-2048" : "ECDSA P-256") +
             " 2 threads >= 1.8x 1 thread",
         m ? format_ratio(t) + " (raw OpenSSL on this machine: " + format_ratio(ref) + ")"
           : "not measured");
  }
  auto [small, big] = measured_sizes(results_, o_.sizes, "label-");
  // Issue 5's criteria are at 100,000 (at the largest N when that was not run), issue 16's at
  // the largest N, 1,000,000 in its run.
  size_t largest = big;
  if (!std::isnan(results_.value("label-100000", kTw))) {
    big = 100000;
  } else if (big > 100000) {
    big = 0;  // a run beyond 100,000 without it: issue 5's lines are not measured
  }
  std::string note_big = big == 100000 ? ""
                         : big         ? " [at " + n_str(big) + "; the criterion is at 100,000]"
                                       : "";
  for (const char* kind : {"label", "id"}) {
    std::string k = kind;
    double soft = results_.value(k + "-10000", kSoft);
    double t = big ? results_.value(k + "-" + std::to_string(big), kTw) : std::nan("");
    bool m = !std::isnan(t) && !std::isnan(soft);
    line(m, m && t >= 1000 * soft,
         "find by CKA_" + std::string(k == "label" ? "LABEL" : "ID") +
             " among 100,000 >= 1,000x SoftHSMv2 among 10,000" + note_big,
         m ? format_ratio(t / soft) + " (" + format_value(t) + " vs " + format_value(soft) +
                 " lookups/s)"
           : "not measured");
    double t_small = small ? results_.value(k + "-" + std::to_string(small), kTw) : std::nan("");
    bool m2 = !std::isnan(t) && !std::isnan(t_small) && big != small;
    line(m2, m2 && t >= t_small / 2,
         "find by CKA_" + std::string(k == "label" ? "LABEL" : "ID") +
             " among 100,000 within 2x of among " + (small ? n_str(small) : std::string("1,000")) +
             note_big,
         m2 ? format_value(t) + " vs " + format_value(t_small) + " lookups/s (" +
                  format_ratio(t / t_small) + ")"
            : "not measured");
  }
  // Issue 16: finds at memory speed, and flat in N.
  for (std::string key : {"label", "id", "class-id", "pub-label", "pub-id", "pub-class-id"}) {
    Row* row = results_.find(key + "-1000");
    std::string what = row ? row->label.substr(0, row->label.find(" among")) : "find by " + key;
    std::string tail = key.rfind("pub-", 0) == 0 ? " (public)" : " (private)";
    double t1 = results_.value(key + "-1000", kTw);
    bool m = !std::isnan(t1);
    line(m, m && t1 >= 100000, what + tail + " among 1,000 >= 100,000 lookups/s",
         m ? format_value(t1) + " lookups/s" : "not measured");
    double tb = largest ? results_.value(key + "-" + std::to_string(largest), kTw) : std::nan("");
    // Against the finds among 1,000 timed alongside (bench_objects.cc: reference_1000) when
    // there are some: the first N = 1,000 figure was measured minutes before, on a machine
    // whose speed drifts.
    // Then the ratio is the median of the rounds' ratios, each of two samples taken together.
    Row* at_n = largest ? results_.find(key + "-" + std::to_string(largest)) : nullptr;
    Row* near = largest ? results_.find(key + "-1000-beside-" + std::to_string(largest)) : nullptr;
    bool alongside = at_n && near && !std::isnan(tb) && !std::isnan(near->value(kTw));
    double t_ref = alongside ? near->value(kTw) : t1;
    double r = alongside ? paired_ratio(at_n->samples.at(kTw), near->samples.at(kTw)) : tb / t1;
    bool m2 = !std::isnan(t_ref) && !std::isnan(tb) && largest != 1000;
    line(m2, m2 && r >= 0.8,
         what + tail + " among " + (largest ? n_str(largest) : std::string("N")) +
             " >= 0.8x among 1,000",
         m2 ? format_value(tb) + " vs " + format_value(t_ref) + " lookups/s (" + format_ratio(r) +
                  (alongside ? ", the median of the rounds' ratios, timed alongside" : "") + ")"
            : "not measured");
  }
  {
    double net = big ? results_.value("cold-net-" + std::to_string(big), kTw) : std::nan("");
    double tot = big ? results_.value("cold-" + std::to_string(big), kTw) : std::nan("");
    bool m = !std::isnan(net);
    double pb = big ? results_.value("cold-pbkdf2-" + std::to_string(big), kTw) : std::nan("");
    line(m, m && net < 50,
         "cold open + login + first find with 100,000 objects < 50 ms + PBKDF2" + note_big,
         m ? format_value(tot) + " ms, minus its PBKDF2 (" + format_value(pb) + " ms): " +
                 format_value(net) + " ms (median of the per-start differences; CPU time " +
                 format_value(results_.value("cold-cpu-" + std::to_string(big), kTw)) + " ms)"
           : "not measured");
  }
  {
    double t = results_.value("login", kTw), p = results_.value("login", kOssl);
    Row* wall = results_.find("login");
    Row* cpu = results_.find("login-cpu");
    double q = wall ? ratio(*wall, kTw, kOssl) : std::nan("");
    double qc = cpu ? ratio(*cpu, kTw, kOssl) : std::nan("");
    bool m = !std::isnan(q);
    line(m, m && q < 1.05, "C_Login costs PBKDF2 and < 5% more",
         m ? format_value(t) + " ms vs PBKDF2 " + format_value(p) + " ms: " + format_ratio(q) +
                 " (CPU time: " + format_ratio(qc) + ")"
           : "not measured");
  }
  {
    auto [bsmall, bbig] = measured_sizes(results_, o_.sizes, "backup-");
    std::string nb = bbig == 100000 ? ""
                     : bbig         ? " [at " + n_str(bbig) + "; the criterion is at 100,000]"
                                    : "";
    size_t blargest = bbig;
    if (!std::isnan(results_.value("backup-100000", kTw))) {
      bbig = 100000;
      nb = "";
    } else if (bbig > 100000) {
      bbig = 0;
    }
    for (const char* what : {"backup", "restore"}) {
      std::string k = what;
      double s = bbig ? results_.value(k + "-" + std::to_string(bbig), kTw) : std::nan("");
      bool m = !std::isnan(s);
      line(m, m && s < 10, k + " of 100,000 objects < 10 s" + nb,
           m ? format_value(s) + " s" : "not measured");
      double mem = bbig ? results_.value(k + "-mem-" + std::to_string(bbig), kTw) : std::nan("");
      double mem0 =
          bsmall ? results_.value(k + "-mem-" + std::to_string(bsmall), kTw) : std::nan("");
      bool m2 = !std::isnan(mem) && !std::isnan(mem0) && bbig != bsmall;
      line(m2, m2 && mem <= 2 * mem0,
           k + " peak memory at 100,000 <= 2x at " +
               (bsmall ? n_str(bsmall) : std::string("1,000")) + nb,
           m2 ? format_value(mem) + " vs " + format_value(mem0) + " MiB" : "not measured");
    }
    million_checks(largest, blargest, bsmall);
  }
  // Issue 16: many processes on one device. The share is judged on the worst round.
  auto samples = [&](const std::string& key, const std::string& impl) {
    Row* row = results_.find(key);
    if (!row || !row->samples.count(impl)) {
      return std::vector<double>{};
    }
    return row->samples.at(impl);
  };
  auto range = [&](const std::string& key) {
    auto v = samples(key, kTw);
    if (v.empty()) {
      return std::string();
    }
    auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    std::string out = "rounds " + format_ratio(*lo) + "-" + format_ratio(*hi);
    auto soft = samples(key, kSoft);
    if (!soft.empty()) {
      out += "; SoftHSMv2 " + format_ratio(median(soft));
    }
    return out;
  };
  for (const auto& [key, what, min] :
       {std::tuple{"sign", "ECDSA P-256 sign", 1.8}, {"create", "create private objects", 1.5}}) {
    std::string k = key;
    double q = results_.value("procscale-" + k, kTw);
    bool m = !std::isnan(q);
    line(m, m && q >= min,
         std::string(what) + ", 2 processes >= " + format_ratio(min) + " 1 process",
         m ? format_ratio(q) + " (" + format_value(results_.value("proc2-" + k, kTw)) + " vs " +
                 format_value(results_.value("proc1-" + k, kTw)) + "/s; " +
                 range("procscale-" + k) + "; CPU they got " +
                 format_value(results_.value("proccores-" + k, kTw)) + " vs " +
                 format_value(results_.value("proccores1-" + k, kTw)) + " cores; per CPU second " +
                 format_ratio(results_.value("procpercpu-" + k, kTw)) + ")"
           : "not measured");
    if (k != "create") {
      continue;  // the fair share is the writers' target; signing's is in the table
    }
    auto share = samples("procshare-" + k, kTw);
    double worst = share.empty() ? std::nan("") : *std::min_element(share.begin(), share.end());
    bool m2 = !std::isnan(worst);
    line(m2, m2 && worst >= 0.4,
         std::string(what) + ", 2 processes: the slower >= 0.4x the faster, every round",
         m2 ? "worst " + format_ratio(worst) + ", median " +
                  format_ratio(results_.value("procshare-" + k, kTw)) + " (" +
                  range("procshare-" + k) + ")"
            : "not measured");
  }
  // Issue 16, isolated mode: p11-kit's RPC is one round trip per PKCS#11 call; twinhsm must add
  // none (2 per signature, 3 per find).
  for (const auto& [key, what, calls] :
       {std::tuple{"sign", "ECDSA P-256 sign (C_SignInit + C_Sign)", 2.0},
        {"find", "find (C_FindObjectsInit + C_FindObjects + C_FindObjectsFinal)", 3.0}}) {
    std::string k = key;
    double rt = results_.value("iso-" + k + "-rt", kTw);
    bool m = !std::isnan(rt);
    line(m, m && std::fabs(rt - calls) < 0.05,
         "isolated mode, " + std::string(what) + ": " + format_value(calls) +
             " round trips, none added",
         m ? format_value(rt) + " round trips; " +
                 format_ratio(results_.value("iso-" + k + "-ratio", kTw)) + " of in-process, +" +
                 format_value(results_.value("iso-" + k + "-added", kTw)) +
                 " us per operation, p11-kit's RPC " +
                 format_value(results_.value("iso-call-added", kTw)) + " us per call"
           : "not measured");
  }
  {
    double made = results_.value("proc-created", kTw), there = results_.value("proc-found", kTw);
    bool m = !std::isnan(made) && !std::isnan(there);
    line(m, m && made == there && made > 0,
         "every object the 2 processes created is there afterwards",
         m ? n_str(static_cast<size_t>(there)) + " found of " + n_str(static_cast<size_t>(made)) +
                 " created (C_CreateObject returned CKR_OK), by C_FindObjects in this process"
           : "not measured");
  }
}

}  // namespace bench
