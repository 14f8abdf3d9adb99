// The records of a backup's plaintext stream: the store's rows, as stored, and an end record.
#pragma once

#include <optional>
#include <string>

#include "backup/format.h"
#include "store/store.h"

namespace twinhsm::backup {

struct Record {
  RecordType type = RecordType::end;
  std::string key;  // setting
  Bytes value;      // setting
  store::RoleRow role;
  store::ObjectRow object;
  Counts counts;  // end
};

// append_record encodes: type (1) || body length (4, BE) || body.
void append_record(Bytes& out, const Record& record);

// RecordParser takes plaintext in pieces and returns whole records. Throws IntegrityError on a
// malformed record.
class RecordParser {
 public:
  void feed(ByteView data);
  std::optional<Record> next();
  bool empty() const { return pos_ == buffer_.size(); }

 private:
  Bytes buffer_;
  size_t pos_ = 0;
};

}  // namespace twinhsm::backup
