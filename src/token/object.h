// Object is one object as the token holds it: its handle, its attributes and, for a session
// object, the session that made it. Immutable once shared: changes make a new Object.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "crypto/pkey.h"
#include "token/attributes.h"

namespace twinhsm::token {

struct Object {
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  AttributeMap attrs;
  CK_SESSION_HANDLE owner = 0;  // session objects: the session that made it; token objects: 0
  bool is_token() const { return owner == 0; }
  bool is_private() const { return attrs.get_bool(CKA_PRIVATE, true); }

  // The parsed key of a key object, made once on first use (key_material.h: object_pkey), so
  // that signing does not decrypt and parse the key every time.
  mutable std::once_flag key_once;
  mutable std::optional<crypto::PKey> key;
};
using ObjectPtr = std::shared_ptr<const Object>;

}  // namespace twinhsm::token
