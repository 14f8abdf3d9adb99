#include "backup/records.h"

#include "backup/byte_reader.h"

namespace twinhsm::backup {

namespace {

void append_blob(Bytes& out, ByteView v, int width) {
  append_be(out, v.size(), width);
  append(out, v);
}

constexpr uint8_t kHasClass = 1, kHasId = 2, kHasLabel = 4;

}  // namespace

void append_record(Bytes& out, const Record& r) {
  Bytes body;
  switch (r.type) {
    case RecordType::setting:
      append_blob(body, as_bytes(r.key), 2);
      append_blob(body, r.value, 4);
      break;
    case RecordType::role:
      body.push_back(static_cast<uint8_t>(r.role.role));
      append_be(body, r.role.iterations, 4);
      append_be(body, r.role.failures, 4);
      append_blob(body, r.role.salt, 2);
      append_blob(body, r.role.wrapped_sk, 2);
      break;
    case RecordType::object: {
      const store::ObjectRow& o = r.object;
      append_be(body, static_cast<uint64_t>(o.id), 8);
      body.push_back(o.is_private ? 1 : 0);
      body.push_back(static_cast<uint8_t>((o.class_tag ? kHasClass : 0) | (o.id_tag ? kHasId : 0) |
                                          (o.label_tag ? kHasLabel : 0)));
      for (const auto* tag : {&o.class_tag, &o.id_tag, &o.label_tag}) {
        if (*tag) {
          append_blob(body, **tag, 1);
        }
      }
      append_blob(body, o.body, 4);
      append_blob(body, o.secret, 4);
      break;
    }
    case RecordType::end:
      append_be(body, r.counts.settings, 4);
      append_be(body, r.counts.roles, 4);
      append_be(body, r.counts.public_objects, 8);
      append_be(body, r.counts.private_objects, 8);
      break;
  }
  out.push_back(static_cast<uint8_t>(r.type));
  append_blob(out, body, 4);
}

void RecordParser::feed(ByteView data) {
  if (pos_ > 0 && pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 20)) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>(pos_));
    pos_ = 0;
  }
  append(buffer_, data);
}

std::optional<Record> RecordParser::next() {
  ByteView rest = ByteView(buffer_).subspan(pos_);
  if (rest.size() < 5) {
    return std::nullopt;
  }
  uint64_t len =
      uint64_t{rest[1]} << 24 | uint64_t{rest[2]} << 16 | uint64_t{rest[3]} << 8 | rest[4];
  if (len > (64u << 20)) {
    throw IntegrityError("a backup record is too large");
  }
  if (rest.size() < 5 + len) {
    return std::nullopt;
  }
  ByteReader r(rest.subspan(5, len), "a backup record is malformed");
  Record rec;
  switch (rest[0]) {
    case static_cast<uint8_t>(RecordType::setting): {
      rec.type = RecordType::setting;
      Bytes key = r.blob(2);
      rec.key.assign(key.begin(), key.end());
      rec.value = r.blob(4);
      break;
    }
    case static_cast<uint8_t>(RecordType::role):
      rec.type = RecordType::role;
      rec.role.role = static_cast<int>(r.be(1));
      rec.role.iterations = static_cast<uint32_t>(r.be(4));
      rec.role.failures = static_cast<uint32_t>(r.be(4));
      rec.role.salt = r.blob(2);
      rec.role.wrapped_sk = r.blob(2);
      break;
    case static_cast<uint8_t>(RecordType::object): {
      rec.type = RecordType::object;
      store::ObjectRow& o = rec.object;
      o.id = static_cast<int64_t>(r.be(8));
      o.is_private = r.be(1) != 0;
      uint64_t present = r.be(1);
      if (present & kHasClass) {
        o.class_tag = r.blob(1);
      }
      if (present & kHasId) {
        o.id_tag = r.blob(1);
      }
      if (present & kHasLabel) {
        o.label_tag = r.blob(1);
      }
      o.body = r.blob(4);
      o.secret = r.blob(4);
      break;
    }
    case static_cast<uint8_t>(RecordType::end):
      rec.type = RecordType::end;
      rec.counts.settings = static_cast<uint32_t>(r.be(4));
      rec.counts.roles = static_cast<uint32_t>(r.be(4));
      rec.counts.public_objects = r.be(8);
      rec.counts.private_objects = r.be(8);
      break;
    default:
      throw IntegrityError("a backup record has an unknown type");
  }
  if (!r.at_end()) {
    throw IntegrityError("a backup record has trailing bytes");
  }
  pos_ += 5 + len;
  return rec;
}

}  // namespace twinhsm::backup
