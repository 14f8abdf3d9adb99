// The fields of each kind of row as its MAC covers them (Store::row_mac), shared by the files
// that read and write those rows (store.cc, store_settings.cc, store_objects.cc). Internal to the
// store: not included from outside src/store.
#pragma once

#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "store/store.h"

namespace twinhsm::store::detail {
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

inline MacFields object_fields(const ObjectRow& r) {
  MacFields f;
  f.add(r.id).add(int64_t{r.is_private}).add(r.class_tag).add(r.id_tag).add(r.label_tag);
  f.add(ByteView(r.body)).add(ByteView(r.secret));
  return f;
}

inline MacFields role_fields(const RoleRow& r) {
  MacFields f;
  f.add(int64_t{r.role}).add(ByteView(r.salt)).add(int64_t{r.iterations});
  f.add(ByteView(r.wrapped_sk)).add(int64_t{r.failures});
  return f;
}

inline MacFields setting_fields(std::string_view key, ByteView value) {
  MacFields f;
  f.add(as_bytes(key)).add(value);
  return f;
}

}  // namespace twinhsm::store::detail
