// The token's objects (token.h): token objects in the store, session objects in memory, who may
// see which, and finding them through the store's index tags.
#include "token/token.h"

#include <algorithm>
#include <utility>

#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/settings.h"

namespace twinhsm::token {

Token::Token(store::Store& store, TokenKeys keys, std::unique_ptr<PinGuard> pin_guard)
    : store_(store),
      login_secret_(std::move(keys.login_secret)),
      pin_guard_(std::move(pin_guard)),
      codec_(std::move(keys.object_key), std::move(keys.index_key)) {
  // The generation handles are made under, from the start (sync() follows it).
  try {
    synced_generation_ = store_.setting_text(settings::kTokenGeneration).value_or("");
  } catch (const std::exception&) {  // a damaged store: said by what reads it next
  }
}

Token::~Token() = default;

ObjectPtr Token::create(AttributeMap attrs, bool token_object, CK_SESSION_HANDLE owner) {
  bool is_private = attrs.get_bool(CKA_PRIVATE, true);
  auto keys = login_keys();
  require(!is_private || (keys && keys->role == Role::user), CKR_USER_NOT_LOGGED_IN,
          "a private object needs the user logged in");
  auto obj = std::make_shared<Object>();
  obj->attrs = std::move(attrs);
  if (token_object) {
    store::Store::WriteTransaction tx(store_, store::Store::WriteTransaction::if_free);
    if (!tx.begun()) {
      // Another process is writing: its commit can carry this row too.
      if (handed_over(*obj, keys)) {
        return obj;
      }
      tx.begin();
    }
    std::string generation = sync_generation_in_tx();
    if (is_private) {
      check_login_in_tx(*keys, generation);
    }
    store::ObjectRow row;
    int64_t id = store_.insert_object([&](int64_t new_id) {
      row = codec_.encode(new_id, obj->attrs, keys ? &*keys : nullptr);
      return row;
    });
    obj->handle = handle_of(id);  // no replacement can commit before this transaction does
    store_.take_handed_over(generation);
    tx.commit();
    row.id = id;
    indexed(store_.object_commits(), [&](TagIndex& index) { index.put(row, true); });
    return obj;
  }
  std::lock_guard lock(mutex_);
  obj->owner = owner;
  obj->handle = next_session_handle_++;
  session_objects_[obj->handle] = obj;
  return obj;
}

bool Token::handed_over(Object& obj, const std::optional<LoginKeys>& keys) {
  // The generation this process last saw, and the handles' replacement count that goes with it:
  // the writer inserts the row only while the store is still at that generation, so a handle
  // made with that count names it.
  std::string generation;
  uint64_t replacements;
  {
    std::lock_guard lock(mutex_);
    generation = synced_generation_;
    replacements = replacements_.load(std::memory_order_acquire);
  }
  if (keys && keys->generation != generation) {
    return false;  // the login is of another generation: the transaction says what to do
  }
  auto id = store_.hand_over_insert(generation, [&](int64_t new_id) {
    return codec_.encode(new_id, obj.attrs, keys ? &*keys : nullptr);
  });
  if (!id) {
    return false;
  }
  obj.handle = static_cast<CK_OBJECT_HANDLE>(*id) | replacements << kReplacementShift;
  return true;
}

ObjectPtr Token::object(CK_OBJECT_HANDLE handle) {
  if (!is_session_handle(handle)) {
    sync();
  }
  return lookup(handle);
}

ObjectPtr Token::key(CK_OBJECT_HANDLE handle) {
  if (!is_session_handle(handle) && !recently_synced()) {
    sync();
  }
  return lookup(handle);
}

ObjectPtr Token::lookup(CK_OBJECT_HANDLE handle) {
  {
    // One shared lock for the common cases: a session object, or a token object in the cache.
    // Nothing was committed by another connection since the cached object was read, and this
    // process's own writes update the cache: the cached object is the row's current content.
    std::shared_lock lock(mutex_);
    bool user = role_ == Role::user;
    if (is_session_handle(handle)) {
      auto it = session_objects_.find(handle);
      require(it != session_objects_.end() && (user || !it->second->is_private()),
              CKR_OBJECT_HANDLE_INVALID, "no such object");
      return it->second;
    }
    require(handle != CK_INVALID_HANDLE, CKR_OBJECT_HANDLE_INVALID, "no such object");
    if (ObjectPtr cached = cache_.find(handle)) {
      require(!cached->is_private() || user, CKR_OBJECT_HANDLE_INVALID, "no such object");
      return cached;
    }
  }
  bool user = logged_in() == Role::user;
  int64_t id = id_of(handle);
  auto row = id != 0 ? store_.object(id) : std::nullopt;
  require(row.has_value(), CKR_OBJECT_HANDLE_INVALID, "no such object");
  auto sk = current_sk();
  require(!row->is_private || (user && sk), CKR_OBJECT_HANDLE_INVALID, "no such object");
  return materialize(*row, sk);
}

ObjectPtr Token::replace(const Object& object, AttributeMap attrs) {
  auto obj = std::make_shared<Object>();
  obj->handle = object.handle;
  obj->owner = object.owner;
  obj->attrs = std::move(attrs);
  if (object.is_token()) {
    auto keys = login_keys();
    require(!obj->is_private() || (keys && keys->role == Role::user), CKR_USER_NOT_LOGGED_IN,
            "a private object needs the user logged in");
    store::Store::WriteTransaction tx(store_);
    // A handle from before a replacement names nothing now.
    std::string generation = sync_generation_in_tx();
    if (obj->is_private()) {
      check_login_in_tx(*keys, generation);
    }
    int64_t id = id_of(object.handle);
    require(id != 0 && store_.object(id).has_value(), CKR_OBJECT_HANDLE_INVALID,
            "the object was destroyed");
    store::ObjectRow row = codec_.encode(id, obj->attrs, keys ? &*keys : nullptr);
    store_.update_object(row);
    tx.commit();
    indexed(store_.object_commits(), [&](TagIndex& index) { index.put(row, true); });
    std::lock_guard lock(mutex_);
    cache_.erase(object.handle);
    return obj;
  }
  std::lock_guard lock(mutex_);
  require(session_objects_.count(object.handle) != 0, CKR_OBJECT_HANDLE_INVALID,
          "the object was destroyed");
  session_objects_[object.handle] = obj;
  return obj;
}

void Token::destroy(const Object& object) {
  if (object.is_token()) {
    store::Store::WriteTransaction tx(store_);
    sync_generation_in_tx();  // a handle from before a replacement names nothing now
    int64_t id = id_of(object.handle);
    require(id != 0 && store_.delete_object(id), CKR_OBJECT_HANDLE_INVALID,
            "the object was already destroyed");
    tx.commit();
    indexed(store_.object_commits(), [&](TagIndex& index) { index.erase(id); });
    std::lock_guard lock(mutex_);
    cache_.erase(object.handle);
    return;
  }
  std::lock_guard lock(mutex_);
  require(session_objects_.erase(object.handle) == 1, CKR_OBJECT_HANDLE_INVALID,
          "the object was already destroyed");
}

namespace {

bool matches(const AttributeMap& attrs, const AttributeMap& tmpl) {
  for (const auto& [type, value] : tmpl) {
    const SecureBytes* have = attrs.find(type);
    if (!have || is_hidden(attrs, type) || have->size() != value.size() ||
        !crypto::ct_equal(*have, value)) {
      return false;
    }
  }
  return true;
}

// tags_decide: the template has only attributes that index tags stand for, so that a row whose
// (authenticated) tags match has these attributes' values; a tag is a keyed hash of the type and
// the portable value, so equal tags are equal values.
bool tags_decide(const AttributeMap& tmpl) {
  for (const auto& [type, value] : tmpl) {
    if (type != CKA_CLASS && type != CKA_ID && type != CKA_LABEL) {
      return false;
    }
  }
  return true;
}

// tags: the index tags a find by tmpl looks for, keyed by tagger.
store::ObjectQuery::Tags tags(const AttributeMap& tmpl, const crypto::Hmac& tagger) {
  return {ObjectCodec::tag(tmpl, CKA_CLASS, tagger), ObjectCodec::tag(tmpl, CKA_ID, tagger),
          ObjectCodec::tag(tmpl, CKA_LABEL, tagger)};
}

}  // namespace

std::vector<CK_OBJECT_HANDLE> Token::find(const AttributeMap& tmpl) {
  std::vector<CK_OBJECT_HANDLE> out;
  bool token_objects = tmpl.get_bool(CKA_TOKEN, true);
  bool session_objects = !tmpl.has(CKA_TOKEN) || !tmpl.get_bool(CKA_TOKEN, false);
  for (int round = 0;; ++round) {
    // Read before the sync: a commit of any connection after it changes one of them. The stamp
    // is a memory read; data_version, a statement, is asked only when there is none.
    auto stamp = store_.change_stamp();
    int64_t version = stamp ? 0 : store_.data_version();
    sync();  // a stale login's index key would silently match nothing; a restore logs it out
    if (!token_objects) {
      break;
    }
    // The last round asks the store: one statement, one snapshot.
    out = find_token_objects(tmpl, round == 2);
    // Another connection committed since the sync (a restore replaces every row): index hits of
    // one store with rows of the next would be a mix of the two, found in neither. Again.
    if (round == 2) {
      break;
    }
    bool moved = stamp ? stamp != store_.change_stamp() : version != store_.data_version();
    if (moved && stamp) {
      // The stamp moves with this process's own commits too (its other threads' writes), which
      // the search saw whole; data_version moves only with other connections'.
      int64_t now = store_.data_version();
      std::shared_lock lock(mutex_);
      moved = now != synced_version_;
    }
    if (!moved) {
      break;
    }
  }
  if (session_objects) {
    bool user = logged_in() == Role::user;
    std::lock_guard lock(mutex_);
    std::vector<CK_OBJECT_HANDLE> session_handles;
    for (const auto& [handle, obj] : session_objects_) {
      if ((user || !obj->is_private()) && matches(obj->attrs, tmpl)) {
        session_handles.push_back(handle);
      }
    }
    std::sort(session_handles.begin(), session_handles.end());
    out.insert(out.end(), session_handles.begin(), session_handles.end());
  }
  return out;
}

std::vector<CK_OBJECT_HANDLE> Token::find_token_objects(const AttributeMap& tmpl, bool by_query) {
  bool user = logged_in() == Role::user;
  auto sk = current_sk();
  std::vector<CK_OBJECT_HANDLE> out;
  store::ObjectQuery q;
  // The private side first: its probe slot in the index is asked for as soon as its tags are
  // known, and arrives while the public ones are computed (among a million objects, one cache
  // miss fewer in a row; TagIndex::find).
  if (user && sk) {
    std::shared_lock lock(mutex_);
    if (private_tagger_) {  // else logged out since
      q.include_private = true;
      q.private_tags = tags(tmpl, *private_tagger_);
      index_.prefetch(q.private_tags);
    }
  }
  q.public_tags = tags(tmpl, codec_.public_tagger());
  if (tmpl.has(CKA_PRIVATE)) {
    q.include_private = q.include_private && tmpl.get_bool(CKA_PRIVATE, true);
  }
  std::optional<std::vector<TagIndex::Match>> hits;
  if (!by_query) {
    hits = find_in_index(q);
  }
  if (hits) {
    bool decided = tags_decide(tmpl);
    for (const TagIndex::Match& hit : *hits) {
      if (decided && hit.authentic) {
        out.push_back(handle_of(hit.id));
        continue;
      }
      // Read and checked as the store's query would have (a damaged row fails here).
      auto row = store_.object(hit.id);
      if (row && (!row->is_private || q.include_private) &&
          matches(materialize(*row, sk)->attrs, tmpl)) {
        out.push_back(handle_of(row->id));
      }
    }
    return out;
  }
  for (const store::ObjectRow& row : store_.find_objects(q)) {
    if (matches(materialize(row, sk)->attrs, tmpl)) {
      out.push_back(handle_of(row.id));
    }
  }
  return out;
}

void Token::destroy_session_objects(CK_SESSION_HANDLE owner) {
  std::lock_guard lock(mutex_);
  std::erase_if(session_objects_, [&](const auto& entry) { return entry.second->owner == owner; });
}

void Token::destroy_all_session_objects() {
  std::lock_guard lock(mutex_);
  session_objects_.clear();
}

}  // namespace twinhsm::token
