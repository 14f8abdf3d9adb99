// Store's object rows (store.h): insert, update, delete, read by id, find by index tags, scan
// and count; every row read is checked against its MAC.
#include <algorithm>

#include "crypto/digest.h"
#include "store/row_fields.h"
#include "store/store.h"

namespace twinhsm::store {

using detail::object_fields;

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
  return in_write([&] {
    // The id AUTOINCREMENT would give (never one used before, even if deleted): the write
    // transaction holds the writers' lock, so no other connection takes it meanwhile. Encoded
    // first (the id is bound into the encryption), then inserted whole in one statement.
    Statement next(
        db_,
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'objects'), 0),"
        " coalesce((SELECT max(id) FROM objects), 0)) + 1");
    next.step();
    int64_t id = next.column_int(0);
    if (tx_id_floor_ < 0) {
      tx_id_floor_ = id - 1;  // posted rows above it are new too (take_handed_over)
    }
    if (queue_in_use()) {
      // Ids come from the queue's counter, which processes posting rows take theirs from:
      // one above what the store has used, or further on when posters have taken ids since.
      id = std::max(id, queue_->next_id().value_or(0));
      queue_->raise_next_id(id + 1);
    }
    ObjectRow row = encode(id);
    row.id = id;
    insert_object_row(row);
    return id;
  });
}

void Store::insert_object_row(const ObjectRow& r) {
  Statement st(
      db_,
      "INSERT INTO objects(id, is_private, class_tag, id_tag, label_tag, body, secret, mac)"
      " VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  st.bind(1, r.id).bind(2, int64_t{r.is_private}).bind(3, r.class_tag).bind(4, r.id_tag);
  st.bind(5, r.label_tag).bind(6, ByteView(r.body)).bind(7, ByteView(r.secret));
  st.bind(8, ByteView(row_mac("objects", {object_fields(r).bytes()}))).run();
  objects_written();
}

void Store::update_object(const ObjectRow& r) {
  in_write([&] {
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
    objects_changed();
  });
}

void Store::objects_changed() {
  Statement(db_, "UPDATE object_changes SET serial = serial + 1").run();
}

Store::ObjectsMark Store::read_objects_mark() {
  // No insert yet: no sqlite_sequence row, last_id 0.
  Statement st(db_,
               "SELECT (SELECT serial FROM object_changes),"
               " (SELECT seq FROM sqlite_sequence WHERE name = 'objects')");
  st.step();
  return ObjectsMark{st.column_int(0), st.column_int(1)};
}

Store::ObjectsMark Store::objects_mark(int64_t* data_version) {
  ReadTransaction tx(*this);  // one snapshot: the SELECT opens it, data_version is of it
  std::lock_guard lock(mutex_);
  ObjectsMark mark = read_objects_mark();
  if (data_version) {
    *data_version = this->data_version();
  }
  return mark;
}

void Store::objects_written() {
  if (tx_depth_ == 0) {
    object_commits_.fetch_add(1, std::memory_order_acq_rel);  // autocommit: written already
  } else {
    tx_objects_written_ = true;
  }
}

void Store::put_object(const ObjectRow& r) {
  in_write([&] { insert_object_row(r); });
}

void Store::delete_everything() {
  in_write([&] {
    db_.exec("DELETE FROM objects; DELETE FROM roles; DELETE FROM settings;");
    objects_written();
    objects_changed();
  });
}

void Store::begin_object_load() {
  std::lock_guard lock(mutex_);
  // Not in a transaction of its own: committed, it would leave a store without its indexes.
  if (tx_depth_ == 0 || tx_object_load_) {
    throw StoreError("a load of object rows begins only once, inside a write transaction");
  }
  db_.exec(kDropObjectIndexes);
  tx_object_load_ = true;
}

void Store::end_object_load() {
  std::lock_guard lock(mutex_);
  if (!tx_object_load_) {
    throw StoreError("no load of object rows to end");
  }
  db_.exec(kObjectIndexes);
  tx_object_load_ = false;
}

bool Store::delete_object(int64_t id) {
  return in_write([&] {
    Statement st(db_, "DELETE FROM objects WHERE id = ?");
    st.bind(1, id).run();
    bool deleted = db_.changes() == 1;
    objects_written();
    objects_changed();
    return deleted;
  });
}

void Store::delete_all_objects() {
  in_write([&] {
    db_.exec("DELETE FROM objects");
    objects_written();
    objects_changed();
  });
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

Store::ObjectsMark Store::scan_objects(
    const std::function<void(const ObjectRow&, bool authentic)>& visit, uint64_t* object_commits,
    int64_t after_id) {
  ReadTransaction tx(*this);  // the mark and the rows of one snapshot
  std::lock_guard lock(mutex_);
  *object_commits = this->object_commits();
  ObjectsMark mark = read_objects_mark();
  Statement st(db_, std::string(kObjectColumns) + " WHERE id > ? ORDER BY id");
  st.bind(1, after_id);
  while (st.step()) {
    ObjectRow r = read_object_columns(st);
    bool authentic = crypto::ct_equal(row_mac("objects", {object_fields(r).bytes()}), r.mac);
    visit(r, authentic);
  }
  return mark;
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

}  // namespace twinhsm::store
