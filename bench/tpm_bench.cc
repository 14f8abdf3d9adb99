// tpm_bench: what the TPM secure element costs. The same work on two devices made alike with the
// `twinhsm` command, one with the file secure element and one on the TPM that --tcti names (swtpm
// from bench/tpm_run.sh, or a real one: --tcti device:/dev/tpmrm0), through libtwinhsm.so loaded
// with dlopen, interleaved round by round; medians in milliseconds. docs/performance.md shows a
// run and what a hardware TPM adds.
//
//   tpm_bench --tcti TCTI [--rounds N] [--objects N] [--pbkdf2-iterations N]
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench_support.h"
#include "common/pkcs11.h"

using namespace bench;

namespace {

void check(CK_RV rv, const char* what) {
  if (rv != CKR_OK) {
    throw std::runtime_error(std::string(what) + " failed: 0x" + std::to_string(rv));
  }
}

// Device is one benchmark device: made with the CLI, used through the module.
class Device {
 public:
  Device(const std::filesystem::path& root, const std::string& name,
         const std::string& secure_element, unsigned iterations)
      : dir_(root / name), conf_(root / (name + ".toml")) {
    std::string cli = TWINHSM_CLI_PATH;
    run_checked({cli, "factory", "personalize", "--device", dir_.string(), "--master-key",
                 (root / "master.key").string(), "--diversifier", "bench", "--pbkdf2-iterations",
                 std::to_string(iterations), "--button", "insecure-auto", "--secure-element",
                 secure_element});
    run_checked({cli, "token", "init", "--device", dir_.string(), "--label", "bench", "--so-pin",
                 "bench-so-pin", "--pin", kPin});
    FILE* f = std::fopen(conf_.c_str(), "w");
    std::fprintf(f, "[[slot]]\ndevice = \"%s\"\n", dir_.c_str());
    std::fclose(f);
  }
  const std::filesystem::path& dir() const { return dir_; }
  const std::filesystem::path& conf() const { return conf_; }
  static constexpr const char* kPin = "bench-user-pin";

 private:
  std::filesystem::path dir_, conf_;
};

// Module is libtwinhsm.so, initialized on one device's configuration.
class Module {
 public:
  Module() {
    handle_ = dlopen(TWINHSM_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      throw std::runtime_error(std::string("dlopen: ") + dlerror());
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle_, "C_GetFunctionList"));
    check(get(&f_), "C_GetFunctionList");
  }
  ~Module() {
    f_->C_Finalize(nullptr);
    dlclose(handle_);
  }
  CK_FUNCTION_LIST* operator->() const { return f_; }

  // open: C_Initialize on dev (which opens the device), a session.
  CK_SESSION_HANDLE open(const Device& dev) {
    f_->C_Finalize(nullptr);
    setenv("TWINHSM_CONF", dev.conf().c_str(), 1);
    check(f_->C_Initialize(nullptr), "C_Initialize");
    CK_SESSION_HANDLE s = 0;
    check(f_->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s),
          "C_OpenSession");
    return s;
  }

 private:
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* f_ = nullptr;
};

CK_RV login(Module& m, CK_SESSION_HANDLE s) {
  std::string pin = Device::kPin;
  return m->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()),
                    static_cast<CK_ULONG>(pin.size()));
}

CK_OBJECT_HANDLE create_data(Module& m, CK_SESSION_HANDLE s, int i) {
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  std::string label = "bench-" + std::to_string(i), value(100, 'v');
  CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                      {CKA_TOKEN, &yes, sizeof yes},
                      {CKA_PRIVATE, &yes, sizeof yes},
                      {CKA_LABEL, label.data(), label.size()},
                      {CKA_VALUE, value.data(), value.size()}};
  CK_OBJECT_HANDLE h = 0;
  check(m->C_CreateObject(s, t, 5, &h), "C_CreateObject");
  return h;
}

CK_OBJECT_HANDLE make_ec_key(Module& m, CK_SESSION_HANDLE s) {
  Bytes params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_BBOOL yes = CK_TRUE;
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, params.data(), params.size()},
                        {CKA_TOKEN, &yes, sizeof yes}};
  CK_ATTRIBUTE priv[] = {{CKA_SIGN, &yes, sizeof yes}, {CKA_TOKEN, &yes, sizeof yes}};
  CK_OBJECT_HANDLE pk = 0, sk = 0;
  check(m->C_GenerateKeyPair(s, &mech, pub, 2, priv, 2, &pk, &sk), "C_GenerateKeyPair");
  return sk;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tcti;
  int rounds = 15, objects = 100;
  unsigned iterations = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--tcti") {
      tcti = v;
    } else if (a == "--rounds") {
      rounds = std::atoi(v.c_str());
    } else if (a == "--objects") {
      objects = std::atoi(v.c_str());
    } else if (a == "--pbkdf2-iterations") {
      iterations = static_cast<unsigned>(std::atoi(v.c_str()));
    }
  }
  if (tcti.empty() || rounds < 1) {
    std::fprintf(
        stderr,
        "usage: tpm_bench --tcti TCTI [--rounds N] [--objects N] [--pbkdf2-iterations N]\n");
    return 2;
  }
  try {
    TempDir root("twinhsm-tpm-bench-");
    run_checked({TWINHSM_CLI_PATH, "factory", "new-master-key", "-o",
                 (root.path() / "master.key").string()});
    std::vector<Device> devices;
    devices.emplace_back(root.path(), "file", "file", iterations);
    devices.emplace_back(root.path(), "tpm", "tpm:" + tcti, iterations);
    const char* names[] = {"open (C_Initialize, C_OpenSession)",
                           "C_GetTokenInfo",
                           "login + logout",
                           "create a private token object",
                           "destroy it",
                           "ECDSA P-256 sign (C_SignInit + C_Sign)",
                           "backup create (CLI process)"};
    constexpr int kWork = 7;
    std::map<int, std::vector<double>> ms[2];
    Module m;
    CK_OBJECT_HANDLE keys[2] = {0, 0};
    for (size_t d = 0; d < devices.size(); ++d) {  // setup: objects to back up, a signing key
      CK_SESSION_HANDLE s = m.open(devices[d]);
      check(login(m, s), "C_Login");
      for (int i = 0; i < objects; ++i) {
        create_data(m, s, i);
      }
      keys[d] = make_ec_key(m, s);
    }
    for (int r = 0; r < rounds; ++r) {
      for (size_t k = 0; k < devices.size(); ++k) {
        size_t d = (k + static_cast<size_t>(r)) % devices.size();
        CK_SESSION_HANDLE s = 0;
        ms[d][0].push_back(1000 * time_once([&] { s = m.open(devices[d]); }));
        CK_TOKEN_INFO info;
        ms[d][1].push_back(
            1000 * time_once([&] { check(m->C_GetTokenInfo(0, &info), "C_GetTokenInfo"); }));
        ms[d][2].push_back(1000 * time_once([&] {
                             check(login(m, s), "C_Login");
                             check(m->C_Logout(s), "C_Logout");
                           }));
        check(login(m, s), "C_Login");
        CK_OBJECT_HANDLE h = 0;
        ms[d][3].push_back(1000 * time_once([&] { h = create_data(m, s, 1000 + r); }));
        ms[d][4].push_back(1000 *
                           time_once([&] { check(m->C_DestroyObject(s, h), "C_DestroyObject"); }));
        CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
        unsigned char digest[32] = {1}, sig[64];
        ms[d][5].push_back(1000 * time_once([&] {
                             CK_ULONG len = sizeof sig;
                             check(m->C_SignInit(s, &mech, keys[d]), "C_SignInit");
                             check(m->C_Sign(s, digest, sizeof digest, sig, &len), "C_Sign");
                           }));
        m->C_Finalize(nullptr);
        std::filesystem::path out = root.path() / "b.twb";
        ms[d][6].push_back(1000 *
                           run_checked({TWINHSM_CLI_PATH, "backup", "create", "--device",
                                        devices[d].dir().string(), "-o", out.string(), "--force"})
                               .seconds);
      }
    }
    std::printf(
        "twinhsm: file vs TPM secure element (%s), medians of %d rounds, ms; %d objects, "
        "PBKDF2 %u iterations\n\n",
        tcti.c_str(), rounds, objects, iterations);
    std::printf("%-42s %10s %10s %10s\n", "operation", "file", "TPM", "TPM adds");
    for (int w = 0; w < kWork; ++w) {
      double f = median(ms[0][w]), t = median(ms[1][w]);
      std::printf("%-42s %10.2f %10.2f %10.2f\n", names[w], f, t, t - f);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tpm_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
