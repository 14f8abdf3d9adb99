#include "tpm_fixture.h"

#include <sqlite3.h>

#include <algorithm>
#include <fstream>

#include "common/bytes.h"
#include "crypto/digest.h"
#include "module.h"
#include "p11.h"

namespace twinhsm::test {

namespace fs = std::filesystem;

DeviceOptions tpm_options(const Swtpm& tpm, std::string diversifier) {
  DeviceOptions o = file_options(std::move(diversifier));
  o.secure_element = "tpm:" + tpm.tcti();
  return o;
}

DeviceOptions file_options(std::string diversifier) {
  DeviceOptions o;
  o.diversifier = std::move(diversifier);
  o.max_login_failures = 10;
  o.button = "insecure-auto";
  return o;
}

std::string cli(const std::vector<std::string>& args) {
  CommandResult r = run_cli(args);
  if (!r.ok()) {
    std::string all;
    for (const auto& a : args) {
      all += " " + a;
    }
    ADD_FAILURE() << "twinhsm" << all << ": " << r.describe();
    return "";
  }
  return r.out;
}

std::string cli_fails(const std::vector<std::string>& args) {
  CommandResult r = run_cli(args);
  EXPECT_FALSE(r.ok()) << "twinhsm " << (args.empty() ? "" : args[0]) << " succeeded: " << r.out;
  return r.err;
}

namespace {

// TokenSession loads the module on a configuration naming dir, opens a session on slot 0 and
// logs the user in. rv is the first failure.
struct TokenSession {
  TempDir conf_dir;
  std::unique_ptr<Module> m;
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  CK_RV rv = CKR_OK;

  TokenSession(const fs::path& dir, const std::string& pin) {
    fs::path conf = conf_dir.path() / "twinhsm.toml";
    write_config(conf, {dir});
    set_config(conf);
    m = std::make_unique<Module>();
    rv = (*m)->C_Initialize(nullptr);
    if (rv == CKR_OK) {
      rv = (*m)->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s);
    }
    if (rv == CKR_OK) {
      rv = (*m)->C_Login(s, CKU_USER,
                         reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                         static_cast<CK_ULONG>(pin.size()));
    }
  }
  ~TokenSession() {
    m.reset();
    set_config("");
  }
};

}  // namespace

void put_object(const fs::path& dir, const std::string& pin, const std::string& label,
                const std::string& value) {
  TokenSession t(dir, pin);
  ASSERT_CKR(CKR_OK, t.rv);
  EXPECT_NE(create(t.m->v3(), t.s, data_object(label, value, true, true)), CK_INVALID_HANDLE);
}

std::optional<std::vector<std::string>> read_objects(const fs::path& dir, const std::string& pin,
                                                     std::string* why) {
  TokenSession t(dir, pin);
  if (t.rv != CKR_OK) {
    if (why) {
      *why = rv_name(t.rv);
    }
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (CK_OBJECT_HANDLE h : find_all(t.m->v3(), t.s, Template().ulong(CKA_CLASS, CKO_DATA))) {
    Bytes label = attr_bytes(t.m->v3(), t.s, h, CKA_LABEL),
          value = attr_bytes(t.m->v3(), t.s, h, CKA_VALUE);
    out.push_back(std::string(label.begin(), label.end()) + "=" +
                  std::string(value.begin(), value.end()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void relabel(const fs::path& dir, const std::string& pin, const std::string& from,
             const std::string& to) {
  TokenSession t(dir, pin);
  ASSERT_CKR(CKR_OK, t.rv);
  auto found = find_all(t.m->v3(), t.s, Template().str(CKA_LABEL, from));
  ASSERT_EQ(found.size(), 1u) << from;
  Template label;
  label.str(CKA_LABEL, to);
  EXPECT_CKR(CKR_OK, (*t.m)->C_SetAttributeValue(t.s, found[0], label.data(), label.size()));
}

void save_store(const fs::path& dir, const std::string& name) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::path from = dir / (std::string("store.db") + suffix);
    fs::path to = dir / (name + suffix);
    fs::remove(to);
    if (fs::exists(from)) {
      fs::copy_file(from, to);
    }
  }
}

void put_back_store(const fs::path& dir, const std::string& name) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::path from = dir / (name + suffix);
    fs::path to = dir / (std::string("store.db") + suffix);
    fs::remove(to);
    if (fs::exists(from)) {
      fs::copy_file(from, to);
    }
  }
}

void copy_device(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}

void retarget(const fs::path& dir, const std::string& tcti) {
  std::string text = read_file(dir / "secure-element");
  std::string body = text.substr(0, text.rfind("check="));
  auto at = body.find("\ntcti=");
  ASSERT_NE(at, std::string::npos) << "not a TPM device";
  auto end = body.find('\n', at + 1);
  body = body.substr(0, at) + "\ntcti=" + tcti + body.substr(end);
  Bytes sum = crypto::digest(crypto::DigestAlg::sha256, as_bytes(body));
  fs::permissions(dir / "secure-element", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(dir / "secure-element", std::ios::trunc)
      << body << "check=" << twinhsm::to_hex(sum) << "\n";
}

bool sql(const fs::path& dir, const std::string& statements) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open((dir / "store.db").c_str(), &db) == SQLITE_OK;
  char* error = nullptr;
  ok = ok && sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &error) == SQLITE_OK;
  if (!ok) {
    ADD_FAILURE() << "sql on " << dir << ": " << (error ? error : sqlite3_errmsg(db));
  }
  sqlite3_free(error);
  sqlite3_close(db);
  return ok;
}

}  // namespace twinhsm::test
