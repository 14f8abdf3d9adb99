#include "store/store.h"

#include "crypto/digest.h"

namespace twinhsm::store {

namespace {

constexpr std::string_view kMacDomain = "twinhsm row v1";

// Fields of a row as the MAC sees them: each length-prefixed, NULL distinct from empty.
class MacFields {
 public:
  MacFields& add(ByteView v) {
    append_be(out_, v.size(), 4);
    append(out_, v);
    return *this;
  }
  MacFields& add(int64_t v) {
    Bytes b;
    append_be(b, static_cast<uint64_t>(v), 8);
    return add(ByteView(b));
  }
  MacFields& add(const std::optional<Bytes>& v) {
    if (!v) {
      append_be(out_, 0xffffffffu, 4);
      return *this;
    }
    return add(ByteView(*v));
  }
  const Bytes& bytes() const { return out_; }

 private:
  Bytes out_;
};

MacFields object_fields(const ObjectRow& r) {
  MacFields f;
  f.add(r.id).add(int64_t{r.is_private}).add(r.class_tag).add(r.id_tag).add(r.label_tag);
  f.add(ByteView(r.body)).add(ByteView(r.secret));
  return f;
}

MacFields role_fields(const RoleRow& r) {
  MacFields f;
  f.add(int64_t{r.role}).add(ByteView(r.salt)).add(int64_t{r.iterations});
  f.add(ByteView(r.wrapped_sk)).add(int64_t{r.failures});
  return f;
}

MacFields setting_fields(std::string_view key, ByteView value) {
  MacFields f;
  f.add(as_bytes(key)).add(value);
  return f;
}

}  // namespace

Store::Store(const std::filesystem::path& path, crypto::SecureBytes row_key, bool create)
    : path_(path), db_(path, create), row_key_(std::move(row_key)) {
  migrate();
  wal_index_ = db_.wal_index();  // after migrate's transaction: the WAL index is mapped
}

Store::~Store() = default;

Store::WriteTransaction::WriteTransaction(Store& store, Anchoring mode)
    : store_(store), lock_(store.mutex_) {
  if (store_.tx_depth_ == 0) {
    tx_.emplace(store_.db_, Transaction::Kind::write);
    store_.tx_rollback_only_ = false;
    store_.tx_objects_written_ = false;
    if (store_.anchor_) {
      store_.anchor_->begin(mode);  // throws, rolling back, when the store is not as anchored
    }
  }
  ++store_.tx_depth_;
}

Store::WriteTransaction::~WriteTransaction() {
  --store_.tx_depth_;
  if (!committed_ && !tx_) {
    store_.tx_rollback_only_ = true;
  }
}

void Store::WriteTransaction::commit() {
  if (tx_) {
    if (store_.tx_rollback_only_) {
      throw StoreError("a nested store operation failed; nothing was written");
    }
    if (store_.anchor_) {
      store_.anchor_->seal();
    }
    tx_->commit();
    if (store_.tx_objects_written_) {
      store_.object_commits_.fetch_add(1, std::memory_order_acq_rel);
    }
    if (store_.anchor_) {
      store_.anchor_->catch_up();
    }
  }
  committed_ = true;
}

Store::ReadTransaction::ReadTransaction(Store& store) : lock_(store.mutex_) {
  if (store.tx_depth_ == 0) {
    tx_.emplace(store.db_, Transaction::Kind::read);
  }
}

void Store::migrate() {
  std::lock_guard lock(mutex_);
  Transaction tx(db_, Transaction::Kind::write);
  int version = schema_version();
  if (version > kSchemaVersion) {
    throw StoreError("the store was written by a newer twinhsm (schema " + std::to_string(version) +
                     "); upgrade twinhsm to open it");
  }
  if (version < 1) {
    db_.exec(
        "CREATE TABLE settings(key TEXT PRIMARY KEY, value BLOB NOT NULL, mac BLOB NOT NULL);"
        "CREATE TABLE roles(role INTEGER PRIMARY KEY, salt BLOB NOT NULL,"
        " iterations INTEGER NOT NULL, wrapped_sk BLOB NOT NULL, failures INTEGER NOT NULL,"
        " mac BLOB NOT NULL);"
        "CREATE TABLE objects(id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " is_private INTEGER NOT NULL, class_tag BLOB, id_tag BLOB, label_tag BLOB,"
        " body BLOB NOT NULL, secret BLOB NOT NULL, mac BLOB NOT NULL);"
        "CREATE INDEX objects_by_class ON objects(class_tag);"
        "CREATE INDEX objects_by_id ON objects(id_tag);"
        "CREATE INDEX objects_by_label ON objects(label_tag);"
        "PRAGMA user_version=1;");
  }
  if (version < 2) {
    db_.exec(
        "CREATE TABLE device_state(key TEXT PRIMARY KEY, value BLOB NOT NULL, mac BLOB NOT NULL);"
        "PRAGMA user_version=2;");
  }
  // Later schema versions add their steps here, each ending with PRAGMA user_version=N.
  tx.commit();
}

int Store::schema_version() {
  std::lock_guard lock(mutex_);
  Statement st(db_, "PRAGMA user_version");
  st.step();
  return static_cast<int>(st.column_int(0));
}

Bytes Store::row_mac(std::string_view table, const std::vector<ByteView>& fields) const {
  Bytes input(kMacDomain.begin(), kMacDomain.end());
  append(input, as_bytes(table));
  input.push_back(0);
  for (ByteView f : fields) {
    append(input, f);
  }
  auto mac = crypto::hmac_sha256(row_key_, input);
  return Bytes(mac.begin(), mac.end());
}

void Store::check_mac(std::string_view table, const std::vector<ByteView>& fields, ByteView mac,
                      std::string_view what) const {
  if (!crypto::ct_equal(row_mac(table, fields), mac)) {
    throw IntegrityError("the store failed its integrity check: " + std::string(what) +
                         " was modified outside twinhsm (restore a backup)");
  }
}

std::optional<Bytes> Store::setting(std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT value, mac FROM settings WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) {
    return std::nullopt;
  }
  Bytes value = st.column_blob(0);
  check_mac("settings", {setting_fields(key, value).bytes()}, st.column_blob(1),
            "setting " + std::string(key));
  return value;
}

std::optional<std::string> Store::setting_text(std::string_view key) {
  auto v = setting(key);
  if (!v) {
    return std::nullopt;
  }
  return std::string(v->begin(), v->end());
}

void Store::put_setting(std::string_view key, ByteView value) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "INSERT OR REPLACE INTO settings(key, value, mac) VALUES(?, ?, ?)");
  st.bind(1, key).bind(2, value).bind(
      3, ByteView(row_mac("settings", {setting_fields(key, value).bytes()})));
  st.run();
}

void Store::delete_setting(std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM settings WHERE key = ?");
  st.bind(1, key).run();
}

std::map<std::string, Bytes> Store::settings() {
  std::lock_guard lock(mutex_);
  std::map<std::string, Bytes> out;
  Statement st(db_, "SELECT key, value, mac FROM settings ORDER BY key");
  while (st.step()) {
    std::string key = st.column_text(0);
    Bytes value = st.column_blob(1);
    check_mac("settings", {setting_fields(key, value).bytes()}, st.column_blob(2),
              "setting " + key);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::optional<Bytes> Store::device_state(std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT value, mac FROM device_state WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) {
    return std::nullopt;
  }
  Bytes value = st.column_blob(0);
  check_mac("device_state", {setting_fields(key, value).bytes()}, st.column_blob(1),
            "device state " + std::string(key));
  return value;
}

void Store::put_device_state(std::string_view key, ByteView value) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "INSERT OR REPLACE INTO device_state(key, value, mac) VALUES(?, ?, ?)");
  st.bind(1, key).bind(2, value);
  st.bind(3, ByteView(row_mac("device_state", {setting_fields(key, value).bytes()})));
  st.run();
}

void Store::delete_device_state(std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM device_state WHERE key = ?");
  st.bind(1, key).run();
}

std::optional<RoleRow> Store::role(int role) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT salt, iterations, wrapped_sk, failures, mac FROM roles WHERE role = ?");
  st.bind(1, int64_t{role});
  if (!st.step()) {
    return std::nullopt;
  }
  RoleRow r;
  r.role = role;
  r.salt = st.column_blob(0);
  r.iterations = static_cast<uint32_t>(st.column_int(1));
  r.wrapped_sk = st.column_blob(2);
  r.failures = static_cast<uint32_t>(st.column_int(3));
  check_mac("roles", {role_fields(r).bytes()}, st.column_blob(4), "a role's login data");
  return r;
}

std::vector<RoleRow> Store::roles() {
  std::lock_guard lock(mutex_);
  std::vector<RoleRow> out;
  std::vector<int64_t> ids;
  {
    Statement st(db_, "SELECT role FROM roles ORDER BY role");
    while (st.step()) {
      ids.push_back(st.column_int(0));
    }
  }
  for (int64_t id : ids) {
    out.push_back(*role(static_cast<int>(id)));
  }
  return out;
}

void Store::put_role(const RoleRow& r) {
  std::lock_guard lock(mutex_);
  Statement st(db_,
               "INSERT OR REPLACE INTO roles(role, salt, iterations, wrapped_sk, failures, mac)"
               " VALUES(?, ?, ?, ?, ?, ?)");
  st.bind(1, int64_t{r.role}).bind(2, ByteView(r.salt)).bind(3, int64_t{r.iterations});
  st.bind(4, ByteView(r.wrapped_sk)).bind(5, int64_t{r.failures});
  st.bind(6, ByteView(row_mac("roles", {role_fields(r).bytes()})));
  st.run();
}

void Store::delete_role(int role) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM roles WHERE role = ?");
  st.bind(1, int64_t{role}).run();
}

ObjectRow Store::read_object_row(Statement& st) const {
  ObjectRow r = read_object_columns(st);
  check_mac("objects", {object_fields(r).bytes()}, r.mac, "object " + std::to_string(r.id));
  return r;
}

ObjectRow Store::read_object_columns(Statement& st) const {
  ObjectRow r;
  r.id = st.column_int(0);
  r.is_private = st.column_int(1) != 0;
  r.class_tag = st.column_optional_blob(2);
  r.id_tag = st.column_optional_blob(3);
  r.label_tag = st.column_optional_blob(4);
  r.body = st.column_blob(5);
  r.secret = st.column_blob(6);
  r.mac = st.column_blob(7);
  return r;
}

namespace {
constexpr std::string_view kObjectColumns =
    "SELECT id, is_private, class_tag, id_tag, label_tag, body, secret, mac FROM objects";
// The same, whole (no string built on every call).
constexpr std::string_view kObjectById =
    "SELECT id, is_private, class_tag, id_tag, label_tag, body, secret, mac FROM objects"
    " WHERE id = ?";
}  // namespace

int64_t Store::insert_object(const std::function<ObjectRow(int64_t id)>& encode) {
  std::lock_guard lock(mutex_);
  // Reserve the id first (AUTOINCREMENT never reuses one), then write the encoded row over the
  // placeholder; the caller's write transaction makes the two one change.
  Statement reserve(db_,
                    "INSERT INTO objects(is_private, body, secret, mac) VALUES(0, x'', x'', x'')");
  reserve.run();
  int64_t id = db_.last_insert_rowid();
  ObjectRow row = encode(id);
  row.id = id;
  update_object(row);
  return id;
}

void Store::update_object(const ObjectRow& r) {
  std::lock_guard lock(mutex_);
  Statement st(db_,
               "UPDATE objects SET is_private = ?, class_tag = ?, id_tag = ?, label_tag = ?,"
               " body = ?, secret = ?, mac = ? WHERE id = ?");
  st.bind(1, int64_t{r.is_private}).bind(2, r.class_tag).bind(3, r.id_tag).bind(4, r.label_tag);
  st.bind(5, ByteView(r.body)).bind(6, ByteView(r.secret));
  st.bind(7, ByteView(row_mac("objects", {object_fields(r).bytes()}))).bind(8, r.id);
  st.run();
  if (db_.changes() != 1) {
    throw StoreError("object " + std::to_string(r.id) + " no longer exists");
  }
  objects_written();
}

void Store::objects_written() {
  if (tx_depth_ == 0) {
    object_commits_.fetch_add(1, std::memory_order_acq_rel);  // autocommit: written already
  } else {
    tx_objects_written_ = true;
  }
}

void Store::put_object(const ObjectRow& r) {
  std::lock_guard lock(mutex_);
  Statement st(
      db_, "INSERT INTO objects(id, is_private, body, secret, mac) VALUES(?, 0, x'', x'', x'')");
  st.bind(1, r.id).run();
  update_object(r);
}

void Store::delete_everything() {
  std::lock_guard lock(mutex_);
  db_.exec("DELETE FROM objects; DELETE FROM roles; DELETE FROM settings;");
  objects_written();
}

bool Store::delete_object(int64_t id) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM objects WHERE id = ?");
  st.bind(1, id).run();
  objects_written();
  return db_.changes() == 1;
}

void Store::delete_all_objects() {
  std::lock_guard lock(mutex_);
  db_.exec("DELETE FROM objects");
  objects_written();
}

std::optional<ObjectRow> Store::object(int64_t id) {
  std::lock_guard lock(mutex_);
  Statement st(db_, kObjectById);
  st.bind(1, id);
  if (!st.step()) {
    return std::nullopt;
  }
  return read_object_row(st);
}

std::vector<ObjectRow> Store::find_objects(const ObjectQuery& q) {
  std::lock_guard lock(mutex_);
  // Build "(is_private = 0 AND tag = ? ...) OR (is_private = 1 AND tag = ? ...)" so that SQLite
  // answers from the tag indexes; with no tag at all this is a listing of every visible row.
  std::string sql(kObjectColumns);
  std::vector<const Bytes*> params;
  auto clause = [&](int is_private, const ObjectQuery::Tags& t) {
    std::string c = "(is_private = " + std::to_string(is_private);
    auto add = [&](const char* column, const std::optional<Bytes>& tag) {
      if (tag) {
        c += std::string(" AND ") + column + " = ?";
        params.push_back(&*tag);
      }
    };
    add("class_tag", t.class_tag);
    add("id_tag", t.id_tag);
    add("label_tag", t.label_tag);
    return c + ")";
  };
  sql += " WHERE " + clause(0, q.public_tags);
  if (q.include_private) {
    sql += " OR " + clause(1, q.private_tags);
  }
  sql += " ORDER BY id";
  Statement st(db_, sql);
  for (size_t i = 0; i < params.size(); ++i) {
    st.bind(static_cast<int>(i + 1), ByteView(*params[i]));
  }
  std::vector<ObjectRow> rows;
  while (st.step()) {
    rows.push_back(read_object_row(st));
  }
  return rows;
}

void Store::for_each_object(const std::function<void(const ObjectRow&)>& visit) {
  std::lock_guard lock(mutex_);
  Statement st(db_, std::string(kObjectColumns) + " ORDER BY id");
  while (st.step()) {
    visit(read_object_row(st));
  }
}

void Store::scan_objects(const std::function<void(const ObjectRow&, bool authentic)>& visit,
                         uint64_t* object_commits) {
  std::lock_guard lock(mutex_);
  *object_commits = this->object_commits();
  Statement st(db_, std::string(kObjectColumns) + " ORDER BY id");
  while (st.step()) {
    ObjectRow r = read_object_columns(st);
    bool authentic = crypto::ct_equal(row_mac("objects", {object_fields(r).bytes()}), r.mac);
    visit(r, authentic);
  }
}

Store::Counts Store::count_objects() {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT is_private, COUNT(*) FROM objects GROUP BY is_private");
  Counts c;
  while (st.step()) {
    (st.column_int(0) ? c.private_objects : c.public_objects) = st.column_int(1);
  }
  return c;
}

std::optional<Store::WalStamp> Store::change_stamp() const {
  if (!wal_index_) {
    return std::nullopt;
  }
  // The header is kept twice: a commit writes the second copy, then (after a barrier) the first.
  // Read the first, then the second: two equal copies are one whole header.
  const volatile auto* words = static_cast<const volatile uint32_t*>(wal_index_);
  WalStamp first, second;
  for (size_t i = 0; i < first.size(); ++i) {
    first[i] = words[i];
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  for (size_t i = 0; i < second.size(); ++i) {
    second[i] = words[second.size() + i];
  }
  if (first != second) {
    return std::nullopt;
  }
  return first;
}

int64_t Store::data_version() {
  std::lock_guard lock(mutex_);
  Statement st(db_, "PRAGMA data_version");
  st.step();
  return st.column_int(0);
}

}  // namespace twinhsm::store
