#include "import/object_file.h"

#include <limits>

#include "common/error.h"

namespace twinhsm::import {

namespace {

// Cursor reads the 8-byte big-endian numbers and byte strings of a file (or of an attribute
// map inside it, whose declared length is its end).
class Cursor {
 public:
  Cursor(ByteView data, size_t base) : data_(data), base_(base) {}

  bool at_end() const { return pos_ == data_.size(); }
  size_t offset() const { return base_ + pos_; }

  ByteView take(uint64_t n, const char* what) {
    if (n > data_.size() - pos_) {
      fail(std::string(what) + " runs past the end");
    }
    ByteView out = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  uint64_t number(const char* what) {
    uint64_t v = 0;
    for (uint8_t b : take(8, what)) {
      v = v << 8 | b;
    }
    return v;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw IntegrityError(what + " at byte " + std::to_string(offset()));
  }

 private:
  ByteView data_;
  size_t base_;
  size_t pos_ = 0;
};

FileAttribute read_value(Cursor& in, uint64_t kind, bool inside_map);

void read_attributes(Cursor& in, std::map<CK_ATTRIBUTE_TYPE, FileAttribute>& out, bool inside_map) {
  while (!in.at_end()) {
    uint64_t type = in.number("an attribute type");
    if (type > std::numeric_limits<CK_ATTRIBUTE_TYPE>::max()) {
      in.fail("an attribute type is out of range");
    }
    uint64_t kind = in.number("an attribute kind");
    FileAttribute value = read_value(in, kind, inside_map);
    if (!out.emplace(static_cast<CK_ATTRIBUTE_TYPE>(type), std::move(value)).second) {
      in.fail("an attribute appears twice");
    }
  }
}

FileAttribute read_value(Cursor& in, uint64_t kind, bool inside_map) {
  FileAttribute a;
  switch (kind) {
    case 1:
      a.kind = FileAttribute::Kind::boolean;
      a.boolean = in.take(1, "a boolean")[0] != 0;
      break;
    case 2:
      a.kind = FileAttribute::Kind::ulong;
      a.ulong = in.number("a number");
      break;
    case 3: {
      a.kind = FileAttribute::Kind::bytes;
      uint64_t n = in.number("a byte string's length");
      a.bytes = crypto::secure_copy(in.take(n, "a byte string"));
      break;
    }
    case 4: {
      if (inside_map) {
        in.fail("an attribute template inside a template");
      }
      a.kind = FileAttribute::Kind::map;
      uint64_t n = in.number("a template's length");
      size_t start = in.offset();
      Cursor inner(in.take(n, "a template"), start);
      std::map<CK_ATTRIBUTE_TYPE, FileAttribute> entries;
      read_attributes(inner, entries, true);
      for (auto& [type, value] : entries) {
        a.map.emplace(type, std::move(static_cast<FileValue&>(value)));
      }
      break;
    }
    case 5: {
      a.kind = FileAttribute::Kind::mechanisms;
      uint64_t n = in.number("a mechanism count");
      if (n > (std::numeric_limits<uint64_t>::max() / 8)) {
        in.fail("a mechanism count is out of range");
      }
      size_t start = in.offset();
      Cursor list(in.take(n * 8, "a mechanism list"), start);
      while (!list.at_end()) {
        a.mechanisms.push_back(list.number("a mechanism"));
      }
      break;
    }
    default:
      in.fail("unknown attribute kind " + std::to_string(kind));
  }
  return a;
}

}  // namespace

const FileAttribute* ObjectFile::find(CK_ATTRIBUTE_TYPE type) const {
  auto it = attributes.find(type);
  return it == attributes.end() ? nullptr : &it->second;
}

ObjectFile parse_object_file(ByteView data) {
  Cursor in(data, 0);
  if (data.empty()) {
    throw IntegrityError("the file is empty");
  }
  ObjectFile file;
  file.generation = in.number("the generation number");
  read_attributes(in, file.attributes, false);
  return file;
}

}  // namespace twinhsm::import
