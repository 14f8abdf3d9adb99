// Other processes' commits (token.h): the object cache is valid for one data_version of the store;
// a commit by another connection drops it, and a new token generation (a restore or a token
// initialization elsewhere) ends this process's login, whose SK is no longer the token's.
#include <chrono>

#include "token/settings.h"
#include "token/token.h"

namespace twinhsm::token {

namespace {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Token::clear_cache() {
  std::lock_guard lock(mutex_);
  cache_.clear();
}

void Token::sync() {
  synced_at_ns_.store(steady_now_ns(), std::memory_order_relaxed);  // before: errs towards syncing
  // The stamp is read first: a commit after it changes it, and the next sync asks again.
  auto stamp = store_.change_stamp();
  if (stamp) {
    std::shared_lock lock(mutex_);
    if (stamp == synced_stamp_) {
      return;
    }
  }
  int64_t version = 0;
  store::Store::ObjectsMark mark = store_.objects_mark(&version);  // of one snapshot
  // Rows changed or deleted by another connection: perhaps the whole token replaced (a restore
  // or init writes a new generation), after which no handle from before may be answered.
  std::optional<std::string> generation;
  {
    std::shared_lock lock(mutex_);
    if (!synced_mark_ || synced_mark_->changed != mark.changed) {
      lock.unlock();
      generation = store_.setting_text(settings::kTokenGeneration).value_or("");
    }
  }
  bool logged_in;
  {
    std::lock_guard lock(mutex_);
    if (generation) {
      note_generation_locked(*generation);
    }
    synced_stamp_ = stamp;
    if (version == synced_version_) {
      // Only this process committed since: the cache and the index have its writes already,
      // and an index whole up to the last mark is whole up to this one.
      if (synced_mark_ && index_last_id_ == synced_mark_->last_id) {
        index_last_id_ = mark.last_id;
      }
      synced_mark_ = mark;
      return;
    }
    if (!synced_mark_ || synced_mark_->changed != mark.changed) {
      cache_.clear();  // rows this process holds may have changed or gone
      index_loaded_ = false;
      ++index_epoch_;
      stale_finds_ = 0;
    }
    // Otherwise rows were only added, or nothing happened to the objects (a login, a setting):
    // the cache holds the same rows, the index adds the new ones at the next find.
    synced_mark_ = mark;
    synced_version_ = version;
    logged_in = role_.has_value();
  }
  if (logged_in) {
    check_generation();
  }
}

namespace {
// Finds the store answers after the index went stale before it is loaded again: a load reads
// every row (about 1 us each), a find by SQL costs about what 30 rows' load does. Loading after
// kMinStaleFinds + rows / 32 finds keeps a process that finds while another one writes from
// loading on every find, and costs at most about twice what the best choice would.
constexpr size_t kMinStaleFinds = 4;
constexpr size_t kRowsPerStaleFind = 32;
}  // namespace

std::optional<std::vector<TagIndex::Match>> Token::find_in_index(const store::ObjectQuery& q) {
  uint64_t commits = store_.object_commits();
  uint64_t epoch;
  {
    std::shared_lock lock(mutex_);
    if (index_loaded_ && index_commits_ == commits) {
      if (!synced_mark_ || index_last_id_ >= synced_mark_->last_id) {
        return index_.find(q);
      }
      int64_t after = index_last_id_;
      epoch = index_epoch_;
      lock.unlock();
      return catch_up(q, after, epoch);
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (++stale_finds_ < kMinStaleFinds + index_rows_hint_ / kRowsPerStaleFind) {
      return std::nullopt;
    }
    stale_finds_ = 0;
    epoch = index_epoch_;
  }
  TagIndex fresh;
  uint64_t loaded_at = 0;
  store::Store::ObjectsMark mark = store_.scan_objects(
      [&](const store::ObjectRow& row, bool authentic) { fresh.put(row, authentic); }, &loaded_at);
  std::lock_guard lock(mutex_);
  if (index_epoch_ != epoch) {
    return std::nullopt;  // another connection committed while this one read
  }
  index_ = std::move(fresh);
  index_loaded_ = true;
  index_last_id_ = mark.last_id;
  index_commits_ = loaded_at;
  index_rows_hint_ = index_.size();
  if (loaded_at != store_.object_commits() ||
      (synced_mark_ && index_last_id_ < synced_mark_->last_id)) {
    return std::nullopt;  // a thread of this process wrote since, or a sync saw newer rows
  }
  return index_.find(q);
}

std::optional<std::vector<TagIndex::Match>> Token::catch_up(const store::ObjectQuery& q,
                                                            int64_t after_id, uint64_t epoch) {
  std::vector<std::pair<store::ObjectRow, bool>> rows;
  uint64_t read_at = 0;
  store::Store::ObjectsMark mark = store_.scan_objects(
      [&](const store::ObjectRow& row, bool authentic) { rows.emplace_back(row, authentic); },
      &read_at, after_id);
  std::lock_guard lock(mutex_);
  // Only onto the index the rows were read for, in a snapshot with no object changed or deleted
  // that the last sync did not see (that sync unloads the index instead).
  if (index_epoch_ != epoch || !index_loaded_ || index_commits_ != read_at ||
      index_last_id_ != after_id || !synced_mark_ || mark.changed != synced_mark_->changed) {
    return std::nullopt;
  }
  for (const auto& [row, authentic] : rows) {
    index_.put(row, authentic);
  }
  index_last_id_ = mark.last_id;
  index_rows_hint_ = index_.size();
  if (index_commits_ != store_.object_commits() || index_last_id_ < synced_mark_->last_id) {
    return std::nullopt;
  }
  return index_.find(q);
}

void Token::indexed(uint64_t object_commits, const std::function<void(TagIndex&)>& change) {
  std::lock_guard lock(mutex_);
  // Only on top of the commit before: a nested write transaction has not committed yet (the
  // count is unchanged), and an index loaded since may hold this write already.
  if (index_loaded_ && index_commits_ + 1 == object_commits) {
    change(index_);
    index_commits_ = object_commits;
  }
}

ObjectPtr Token::materialize(const store::ObjectRow& row, const std::optional<SecureBytes>& sk) {
  CK_OBJECT_HANDLE handle = handle_of(row.id);
  {
    std::lock_guard lock(mutex_);
    if (ObjectPtr cached = cache_.find(handle, row.mac)) {
      return cached;
    }
  }
  auto obj = std::make_shared<Object>();
  obj->handle = handle;
  obj->attrs = read(row, sk);
  std::lock_guard lock(mutex_);
  cache_.put(handle, row.mac, obj);
  return obj;
}

bool Token::note_generation_locked(const std::string& generation) {
  if (generation == synced_generation_) {
    return false;
  }
  if (!synced_generation_.empty()) {
    replacements_.fetch_add(1, std::memory_order_acq_rel);
  }
  synced_generation_ = generation;
  return true;
}

std::string Token::sync_generation_in_tx() {
  std::string now = store_.setting_text(settings::kTokenGeneration).value_or("");
  std::lock_guard lock(mutex_);
  if (note_generation_locked(now)) {
    cache_.clear();
  }
  return now;
}

void Token::check_login_in_tx(const LoginKeys& keys, const std::string& generation) {
  if (generation != keys.generation) {
    logout();
    throw LoggedOutByAnotherProcess(*this);
  }
}

void Token::check_generation() {
  std::string now = store_.setting_text(settings::kTokenGeneration).value_or("");
  bool stale;
  {
    std::lock_guard lock(mutex_);
    stale = role_ && now != generation_;
  }
  if (stale) {
    logout();
    throw LoggedOutByAnotherProcess(*this);
  }
}

AttributeMap Token::read(const store::ObjectRow& row, const std::optional<SecureBytes>& sk) {
  try {
    return codec_.decode(row, sk ? &*sk : nullptr);
  } catch (const IntegrityError&) {
    if (row.is_private) {
      check_generation();
    }
    throw;
  }
}

bool Token::rows_portable() {
  return store_.setting_text(settings::kRowEncoding) == "2";
}

void Token::migrate_rows() {
  if (rows_portable()) {
    return;
  }
  auto keys = login_keys();
  const LoginKeys* login = keys && keys->role == Role::user ? &*keys : nullptr;
  store::Store::WriteTransaction tx(store_);
  bool all = true;
  std::vector<store::ObjectRow> rows;
  store_.for_each_object([&](const store::ObjectRow& row) { rows.push_back(row); });
  for (const store::ObjectRow& row : rows) {
    if (row.is_private && !login) {
      all = false;
      continue;
    }
    bool portable = false;
    AttributeMap attrs;
    try {
      attrs = codec_.decode(row, login ? &login->sk : nullptr, &portable);
    } catch (const IntegrityError&) {
      all = false;  // a damaged row stays as it is: it fails when it is used
      continue;
    }
    if (!portable) {
      store_.update_object(codec_.encode(row.id, attrs, login));
    }
  }
  if (all) {
    store_.put_setting(settings::kRowEncoding, "2");
  }
  tx.commit();
  clear_cache();
}

bool Token::recently_synced() const {
  return steady_now_ns() - synced_at_ns_.load(std::memory_order_relaxed) < kKeyFreshnessNs;
}

}  // namespace twinhsm::token
