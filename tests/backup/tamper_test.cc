// A backup is opened only whole and unaltered, only on its device or a twin, and holds no secret
// in the clear. Every single-byte flip, every truncation, every chunk swap and a splice from
// another backup are rejected before the target device changes at all.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <functional>

#include "backup/restore.h"
#include "backup_fixture.h"
#include "crypto/kdf.h"
#include "crypto/keywrap.h"
#include "device/device_keys.h"
#include "test_press.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"

namespace twinhsm::testing {
namespace {

constexpr std::string_view kSoPin = "so-pin-1234";
constexpr std::string_view kUserPin = "user-pin-5678";

Bytes aes_value() {
  Bytes v(32);
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = static_cast<uint8_t>(0xA0 ^ (i * 7));
  }
  return v;
}

void add_objects(device::Device& d, const std::string& label_prefix) {
  token::Token& t = d.token();
  t.login(token::Role::user, as_bytes(kUserPin));
  for (bool is_private : {false, true}) {
    token::AttributeMap tmpl;
    tmpl.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
    tmpl.set_ulong(CKA_KEY_TYPE, CKK_AES);
    tmpl.set_bool(CKA_TOKEN, true);
    tmpl.set_bool(CKA_PRIVATE, is_private);
    tmpl.set(CKA_VALUE, ByteView(aes_value()));
    std::string label = label_prefix + (is_private ? "-private-key" : "-public-key");
    tmpl.set(CKA_LABEL, as_bytes(label));
    auto attrs = token::complete_template(tmpl, token::Origin::created);
    token::finish_key(attrs, token::Origin::created);
    t.create(std::move(attrs), true, 0);
  }
  t.logout();
}

std::unique_ptr<device::Device> initialized_device(const std::filesystem::path& dir,
                                                   const std::string& diversifier,
                                                   const std::string& label) {
  device::PersonalizeOptions o;
  o.diversifier = diversifier;
  o.pbkdf2_iterations = 1000;
  auto d = make_device(dir, o);
  d->token().init_token(as_bytes(kSoPin), label);
  d->token().login(token::Role::so, as_bytes(kSoPin));
  d->token().init_pin(as_bytes(kUserPin));
  d->token().logout();
  add_objects(*d, label);
  return d;
}

// state is every row of the store, as stored: equal states mean an unchanged device.
// A restore gives the token a new generation (token.generation), which is left out here.
std::string state(device::Device& d) {
  std::string out;
  for (const auto& [k, v] : d.store().settings()) {
    if (k == "token.generation") {
      continue;
    }
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

// schema is the store's schema as another connection reads it from the file: its tables and
// indexes (a restore drops the objects' tag indexes and makes them again, store.h).
std::string schema(device::Device& d) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(d.store().path().c_str(), &h, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name",
                               -1, &st, nullptr),
            SQLITE_OK);
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < 3; ++i) {
      const auto* text = sqlite3_column_text(st, i);
      out += text ? reinterpret_cast<const char*>(text) : "NULL";
      out += i < 2 ? " " : "\n";
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

class BackupTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    source = initialized_device(tmp.path() / "source", "pair-a", "source");
    twin = initialized_device(tmp.path() / "twin", "pair-a", "twin");
    params = backup::CreateParams::random();
    params.chunk_size = 96;  // many chunks from a small store
    file = tmp.path() / "source.twb";
    bytes = backup_bytes(*source, params, file);
    twin_state = state(*twin);
  }

  // try_restore restores the file onto the twin and returns the error; the twin must not change.
  std::string try_restore(ByteView data) {
    auto path = tmp.path() / "attempt.twb";
    write_file(path, data);
    std::string error;
    try {
      backup::BackupReader reader(path);
      backup::check_restorable(*twin, reader);
      backup::restore(*twin, reader, test::test_press());
    } catch (const Error& e) {
      error = e.what();
    }
    return error;
  }

  // Offsets of each chunk's length field.
  std::vector<size_t> chunk_offsets() const {
    std::vector<size_t> out;
    size_t pos = size_t{bytes[10]} << 8 | bytes[11];
    while (pos < bytes.size()) {
      out.push_back(pos);
      size_t len = size_t{bytes[pos]} << 24 | size_t{bytes[pos + 1]} << 16 |
                   size_t{bytes[pos + 2]} << 8 | bytes[pos + 3];
      pos += 4 + len;
    }
    return out;
  }

  TempDir tmp;
  std::unique_ptr<device::Device> source, twin;
  backup::CreateParams params;
  std::filesystem::path file;
  Bytes bytes;
  std::string twin_state;
};

TEST_F(BackupTamper, UnalteredBackupRestoresOnTwinWithOriginalPins) {
  ASSERT_GT(chunk_offsets().size(), 5u);
  EXPECT_EQ(try_restore(bytes), "");
  EXPECT_EQ(state(*twin), state(*source));
  twin->token().login(token::Role::user, as_bytes(kUserPin));
  token::AttributeMap q;
  q.set(CKA_LABEL, as_bytes("source-private-key"));
  auto found = twin->token().find(q);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(twin->token().object(found[0])->attrs.get_bytes(CKA_VALUE), aes_value());
}

// A restore that fails while it writes (here: an error thrown after each number of records in
// turn) leaves the twin's rows and its schema, tag indexes included, as they were; a whole one
// leaves the schema of a store made afresh (the indexes dropped for the load are there again).
TEST_F(BackupTamper, ARestoreThatFailsWhileWritingLeavesRowsAndIndexes) {
  const std::string twin_schema = schema(*twin);
  ASSERT_NE(twin_schema.find("objects_by_label"), std::string::npos);
  uint64_t records = 0;
  {
    backup::BackupReader reader(file);
    backup::check_restorable(*twin, reader);
    reader.for_each_record([&](const backup::Record&) { ++records; });
  }
  ASSERT_GT(records, 5u);
  for (uint64_t fail_at = 1; fail_at <= records; ++fail_at) {
    backup::BackupReader reader(file);
    backup::check_restorable(*twin, reader);
    EXPECT_THROW(backup::restore(*twin, reader, test::test_press(),
                                 [&](uint64_t written) {
                                   if (written == fail_at) {
                                     throw StoreError("the test's failure");
                                   }
                                 }),
                 StoreError);
    ASSERT_EQ(state(*twin), twin_state) << "after a failure at record " << fail_at;
    ASSERT_EQ(schema(*twin), twin_schema) << "after a failure at record " << fail_at;
  }
  twin->token().login(token::Role::user, as_bytes(kUserPin));
  token::AttributeMap q;
  q.set(CKA_LABEL, as_bytes("twin-private-key"));
  EXPECT_EQ(twin->token().find(q).size(), 1u);
  twin->token().logout();
  EXPECT_EQ(try_restore(bytes), "");
  EXPECT_EQ(state(*twin), state(*source));
  EXPECT_EQ(schema(*twin), twin_schema);
}

// An object an application looked up before another connection restored a backup, destroyed or
// changed after the restore committed: nothing of the restored token is touched, though its
// rows have the ids the application's objects had (the twin's device numbered them the same
// way). Before session 11's review the destroy erased the restored row.
TEST_F(BackupTamper, AnObjectLookedUpBeforeARestoreTouchesNothingAfterIt) {
  auto app = device::Device::open(tmp.path() / "twin");  // another connection, as a process
  app->token().login(token::Role::user, as_bytes(kUserPin));
  token::AttributeMap q;
  q.set(CKA_LABEL, as_bytes("twin-private-key"));
  auto found = app->token().find(q);
  ASSERT_EQ(found.size(), 1u);
  token::ObjectPtr obj = app->token().object(found[0]);
  EXPECT_EQ(try_restore(bytes), "");
  const std::string restored = state(*twin);
  auto rv_of = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const token::CkError& e) {
      return e.rv();
    }
    return CKR_OK;
  };
  EXPECT_EQ(rv_of([&] { app->token().destroy(*obj); }), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_NE(rv_of([&] { app->token().replace(*obj, obj->attrs); }), CKR_OK);
  EXPECT_EQ(state(*twin), restored);
}

TEST_F(BackupTamper, EverySingleByteFlipIsRejected) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    Bytes altered = bytes;
    altered[i] ^= 0x01;
    ASSERT_NE(try_restore(altered), "") << "a flip at byte " << i << " was accepted";
  }
  EXPECT_EQ(state(*twin), twin_state);
}

TEST_F(BackupTamper, EveryTruncationIsRejected) {
  auto chunks = chunk_offsets();
  for (size_t len = 0; len < bytes.size(); ++len) {
    ASSERT_NE(try_restore(ByteView(bytes).first(len)), "") << "truncation to " << len;
  }
  for (size_t at : std::vector<size_t>(chunks.begin() + 1, chunks.end())) {
    EXPECT_NE(try_restore(ByteView(bytes).first(at)).find("authentication"), std::string::npos)
        << "truncation at the chunk boundary " << at;
  }
  EXPECT_EQ(state(*twin), twin_state);
}

TEST_F(BackupTamper, ReorderedAndSplicedChunksAreRejected) {
  auto chunks = chunk_offsets();
  chunks.push_back(bytes.size());
  for (size_t i = 0; i + 2 < chunks.size(); ++i) {
    Bytes swapped(bytes.begin(), bytes.begin() + static_cast<long>(chunks[i]));
    append(swapped, ByteView(bytes).subspan(chunks[i + 1], chunks[i + 2] - chunks[i + 1]));
    append(swapped, ByteView(bytes).subspan(chunks[i], chunks[i + 1] - chunks[i]));
    append(swapped, ByteView(bytes).subspan(chunks[i + 2]));
    ASSERT_NE(try_restore(swapped), "") << "chunks " << i << " and " << i + 1 << " swapped";
  }
  // The same store backed up again (new id and OTK): its chunks do not fit into the first.
  auto other = backup::CreateParams::random();
  other.chunk_size = params.chunk_size;
  Bytes second = backup_bytes(*source, other, tmp.path() / "second.twb");
  Bytes spliced(bytes.begin(), bytes.begin() + static_cast<long>(chunks[1]));
  append(spliced, ByteView(second).subspan(chunks[1]));
  EXPECT_NE(try_restore(spliced), "");
  EXPECT_EQ(state(*twin), twin_state);
}

TEST_F(BackupTamper, OtherPairOrOtherMasterKeyIsRefusedAndUnchanged) {
  auto stranger = initialized_device(tmp.path() / "stranger", "pair-b", "stranger");
  std::string before = state(*stranger);
  backup::BackupReader reader(file);
  try {
    backup::check_restorable(*stranger, reader);
    FAIL() << "a device of another pair accepted the backup";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("pair-a"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("pair-b"), std::string::npos);
  }
  // Same diversifier, another factory master key: the KEK differs, the OTK does not unwrap.
  device::PersonalizeOptions o;
  o.diversifier = "pair-a";
  crypto::SecureBytes other_master(32, 0x55);
  device::Device::personalize(tmp.path() / "impostor", other_master, o);
  auto impostor = device::Device::open(tmp.path() / "impostor");
  backup::BackupReader again(file);
  EXPECT_THROW(backup::check_restorable(*impostor, again), IntegrityError);
  EXPECT_EQ(state(*stranger), before);
}

TEST_F(BackupTamper, BackupHoldsNoSecretInTheClear) {
  const auto& se = source->secure_element();
  backup::BackupReader reader(file);
  crypto::SecureBytes kek = se.derive(backup::kKekLabel, backup::kek_context(reader.header()), 32);
  // SK, recomputed from the user PIN as docs/key-hierarchy.md describes.
  auto role = source->store().role(static_cast<int>(token::Role::user));
  ASSERT_TRUE(role.has_value());
  crypto::SecureBytes stretched =
      crypto::pbkdf2_hmac_sha256(as_bytes(kUserPin), role->salt, role->iterations, 32);
  crypto::SecureBytes login_secret = se.derive("twinhsm login secret v1", ByteView(), 32);
  stretched.insert(stretched.end(), login_secret.begin(), login_secret.end());
  crypto::SecureBytes role_kek =
      crypto::kbkdf_counter_hmac_sha256(stretched, "twinhsm role kek v1", as_bytes("user"), 32);
  crypto::SecureBytes sk = crypto::aes_key_unwrap(role_kek, role->wrapped_sk);

  auto contains = [&](ByteView needle) {
    return std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end();
  };
  EXPECT_FALSE(contains(params.otk)) << "OTK";
  EXPECT_FALSE(contains(kek)) << "KEK";
  EXPECT_FALSE(contains(sk)) << "SK";
  EXPECT_FALSE(contains(aes_value())) << "a key value";
  EXPECT_FALSE(contains(as_bytes(kUserPin))) << "the user PIN";
  EXPECT_FALSE(contains(as_bytes(kSoPin))) << "the SO PIN";
  EXPECT_FALSE(contains(device::derive_dbk(example_master_key(), se.diversifier))) << "the DBK";
  EXPECT_FALSE(contains(as_bytes("source-private-key"))) << "a private object's label";
}

}  // namespace
}  // namespace twinhsm::testing
