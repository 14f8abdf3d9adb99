#include "import/softhsm2_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "crypto/cipher.h"
#include "crypto/softhsm2_pbe.h"

namespace twinhsm::import {

namespace fs = std::filesystem;

namespace {

// SoftHSMv2's vendor attributes of token.object (OSAttributes.h).
constexpr CK_ATTRIBUTE_TYPE kVendorSoftHsm = CKA_VENDOR_DEFINED + 0x5348;
constexpr CK_ATTRIBUTE_TYPE kTokenLabel = kVendorSoftHsm + 1;
constexpr CK_ATTRIBUTE_TYPE kTokenSerial = kVendorSoftHsm + 2;
constexpr CK_ATTRIBUTE_TYPE kUserPinBlob = kVendorSoftHsm + 5;

constexpr off_t kMaxFileSize = 64 << 20;
constexpr auto kLockWait = std::chrono::seconds(10);

// Fd closes a file descriptor (and so drops its fcntl lock).
struct Fd {
  int fd;
  ~Fd() { ::close(fd); }
};

// read_file reads a whole file opened read-only, under a shared fcntl lock (SoftHSMv2 writes
// under an exclusive one).
crypto::SecureBytes read_file(const fs::path& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (f.fd < 0) {
    throw UsageError("cannot read " + path.string() + ": " + std::strerror(errno));
  }
  struct flock lock {};
  lock.l_type = F_RDLCK;
  lock.l_whence = SEEK_SET;
  auto give_up = std::chrono::steady_clock::now() + kLockWait;
  while (::fcntl(f.fd, F_SETLK, &lock) != 0) {
    if ((errno != EACCES && errno != EAGAIN) || std::chrono::steady_clock::now() > give_up) {
      throw UsageError(path.string() +
                       " stays locked by another process (a SoftHSMv2 "
                       "application writing it?): try again when it is done");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxFileSize) {
    throw IntegrityError(path.string() +
                         " is not a SoftHSMv2 object file (not a regular file "
                         "of at most 64 MiB)");
  }
  crypto::SecureBytes data(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(f.fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw UsageError("cannot read " + path.string() + ": " +
                       (n < 0 ? std::strerror(errno) : "it shrank while being read"));
    }
    got += static_cast<size_t>(n);
  }
  return data;
}

ObjectFile parse_file(const fs::path& path) {
  try {
    return parse_object_file(read_file(path));
  } catch (const IntegrityError& e) {
    throw IntegrityError("the SoftHSMv2 file " + path.string() + " is damaged: " + e.what());
  }
}

// cbc_decrypt opens IV (16) || AES-256-CBC ciphertext with PKCS#7 padding; IntegrityError when
// the padding is malformed (a wrong key, or damage).
crypto::SecureBytes cbc_decrypt(std::span<const uint8_t> key, ByteView iv_and_ciphertext) {
  if (iv_and_ciphertext.size() < 2 * crypto::kAesBlock ||
      iv_and_ciphertext.size() % crypto::kAesBlock != 0) {
    throw IntegrityError("an encrypted value has a length that AES-CBC cannot give");
  }
  crypto::SymmetricCipher c(crypto::CipherMode::cbc, key,
                            iv_and_ciphertext.first(crypto::kAesBlock), false, true);
  crypto::SecureBytes out = c.update(iv_and_ciphertext.subspan(crypto::kAesBlock));
  crypto::SecureBytes rest = c.finish();
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

// stored_in_clear: SoftHSMv2 does not encrypt these in private objects
// (P11AttrStartDate/EndDate::updateAttr).
bool stored_in_clear(CK_ATTRIBUTE_TYPE type) {
  return type == CKA_START_DATE || type == CKA_END_DATE;
}

std::string text_of(const ObjectFile& token, CK_ATTRIBUTE_TYPE type) {
  const FileAttribute* a = token.find(type);
  if (!a || a->kind != FileValue::Kind::bytes) {
    return "";
  }
  std::string s(a->bytes.begin(), a->bytes.end());
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

// explain_not_a_token says what dir is when it holds no token.object.
[[noreturn]] void explain_not_a_token(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UsageError(dir.string() +
                     " is not a directory: give one SoftHSMv2 token directory "
                     "(directories.tokendir/<uuid>)");
  }
  if (fs::exists(dir / "sqlite3.db", ec)) {
    throw UsageError(dir.string() +
                     " is a token of SoftHSMv2's db backend: only its file "
                     "backend (objectstore.backend = file) is read");
  }
  std::string tokens;
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (fs::exists(entry.path() / "token.object", ec)) {
      tokens += (count++ ? ", " : "") + entry.path().string();
    }
  }
  if (count > 0) {
    throw UsageError(dir.string() + " holds " + std::to_string(count) +
                     " SoftHSMv2 token(s): give one of them with --from (" + tokens + ")");
  }
  throw UsageError(dir.string() + " is not a SoftHSMv2 token directory (it has no token.object)");
}

}  // namespace

SoftHsm2Token::SoftHsm2Token(fs::path dir, ObjectFile token, std::vector<std::string> files)
    : dir_(std::move(dir)), token_(std::move(token)), files_(std::move(files)) {}

SoftHsm2Token SoftHsm2Token::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "token.object", ec)) {
    explain_not_a_token(dir);
  }
  ObjectFile token = parse_file(dir / "token.object");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 7 && name.ends_with(".object") && name != "token.object") {
      files.push_back(name);  // SoftHSMv2's OSToken::index takes these, and only these
    }
  }
  std::sort(files.begin(), files.end());
  return SoftHsm2Token(dir, std::move(token), std::move(files));
}

std::string SoftHsm2Token::label() const {
  return text_of(token_, kTokenLabel);
}
std::string SoftHsm2Token::serial() const {
  return text_of(token_, kTokenSerial);
}

crypto::SecureBytes SoftHsm2Token::token_key(ByteView user_pin) const {
  const FileAttribute* blob = token_.find(kUserPinBlob);
  if (!blob || blob->kind != FileValue::Kind::bytes || blob->bytes.empty()) {
    throw UsageError(
        "the SoftHSMv2 token has no user PIN: set one (softhsm2-util --init-token "
        "--pin, or C_InitPIN) and try again");
  }
  ByteView b(blob->bytes);
  if (b.size() < 8 + 2 * crypto::kAesBlock) {
    throw IntegrityError("the SoftHSMv2 file " + (dir_ / "token.object").string() +
                         " is damaged: its user PIN blob is too short");
  }
  crypto::SecureBytes pin_key = crypto::softhsm2_pin_key(user_pin, b.first(8));
  crypto::SecureBytes opened;
  try {
    opened = cbc_decrypt(pin_key, b.subspan(8));
  } catch (const IntegrityError&) {
    // A wrong key: the padding fails (a damaged blob looks the same).
  }
  static const uint8_t kMagic[] = {'R', 'J', 'R'};
  if (opened.size() != 3 + 32 || !crypto::ct_equal(ByteView(opened).first(3), kMagic)) {
    throw UsageError("the SoftHSMv2 user PIN is wrong: it does not open the token key of " +
                     dir_.string());
  }
  return crypto::secure_copy(ByteView(opened).subspan(3));
}

namespace {

// set_value sets type in out to a plain value of the file (bytes as they are).
void set_value(token::AttributeMap& out, CK_ATTRIBUTE_TYPE type, const FileValue& v) {
  switch (v.kind) {
    case FileValue::Kind::boolean:
      out.set_bool(type, v.boolean);
      break;
    case FileValue::Kind::ulong:
      out.set_ulong(type, static_cast<CK_ULONG>(v.ulong));
      break;
    case FileValue::Kind::bytes:
      out.set(type, ByteView(v.bytes));
      break;
    case FileValue::Kind::mechanisms:
      if (!v.mechanisms.empty()) {
        crypto::SecureBytes list;
        for (uint64_t m : v.mechanisms) {
          auto mech = static_cast<CK_MECHANISM_TYPE>(m);
          auto* p = reinterpret_cast<const uint8_t*>(&mech);
          list.insert(list.end(), p, p + sizeof mech);
        }
        out.set(type, std::move(list));
      }
      break;
    case FileValue::Kind::map:
      break;  // never inside a template (the parser refuses it); source_object encodes templates
  }
}

}  // namespace

SourceObject source_object(const std::string& name, const ObjectFile& file,
                           const crypto::SecureBytes& key) {
  SourceObject out;
  out.file = name;
  const FileAttribute* priv = file.find(CKA_PRIVATE);
  bool is_private = !priv || priv->kind != FileValue::Kind::boolean || priv->boolean;
  for (const auto& [type, a] : file.attributes) {
    if (a.kind == FileValue::Kind::map) {
      if (!a.map.empty()) {  // a template's values are never encrypted
        token::AttributeMap tmpl;
        for (const auto& [inner_type, inner] : a.map) {
          set_value(tmpl, inner_type, inner);
        }
        out.attrs.set(type, tmpl.encode());
      }
    } else if (a.kind == FileValue::Kind::bytes && is_private && !a.bytes.empty() &&
               !stored_in_clear(type)) {
      out.attrs.set(type, cbc_decrypt(key, a.bytes));
    } else {
      set_value(out.attrs, type, a);
    }
  }
  return out;
}

std::vector<SourceObject> SoftHsm2Token::read_objects(ByteView user_pin) const {
  crypto::SecureBytes key = token_key(user_pin);
  std::vector<SourceObject> objects;
  for (const std::string& name : files_) {
    fs::path path = dir_ / name;
    ObjectFile file = parse_file(path);
    try {
      objects.push_back(source_object(name, file, key));
    } catch (const IntegrityError&) {
      throw IntegrityError("the SoftHSMv2 file " + path.string() +
                           " is damaged: a private "
                           "attribute does not decrypt with the token key");
    }
  }
  return objects;
}

}  // namespace twinhsm::import
