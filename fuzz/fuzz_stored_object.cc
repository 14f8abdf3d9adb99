// fuzz_stored_object: an object's stored form (token/attributes.h: count, then type, length and
// value per attribute) through token::AttributeMap::decode, the decoder every stored object
// goes through once its row has authenticated. decode must return a map or throw
// twinhsm::Error. A decoded map must survive encode/decode unchanged, and its typed reads must
// return or throw twinhsm::Error.
//
// With TWINHSM_FUZZ_STRICT=1 an accepted input must also be canonical (encode(decode(x)) == x:
// types ascending, each once).
#include <cstdint>
#include <cstdio>

#include "fuzz_util.h"
#include "token/attributes.h"

using namespace twinhsm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  token::AttributeMap map;
  try {
    map = token::AttributeMap::decode(ByteView(data, size));
  } catch (const twinhsm::Error&) {
    return 0;
  }
  crypto::SecureBytes encoded = map.encode();
  token::AttributeMap again = token::AttributeMap::decode(encoded);  // must not throw
  if (again.size() != map.size() || again.encode() != encoded) {
    std::fprintf(stderr, "fuzz_stored_object: encode/decode does not round-trip\n");
    std::abort();
  }
  for (const auto& [type, value] : map) {
    try {
      (void)map.get_bool(type, false);
    } catch (const twinhsm::Error&) {
    }
    try {
      (void)map.get_ulong(type);
    } catch (const twinhsm::Error&) {
    }
    if (map.get_bytes(type).size() != value.size()) {
      std::abort();
    }
  }
  if (fuzz::strict() && !std::equal(encoded.begin(), encoded.end(), data, data + size)) {
    std::fprintf(stderr, "fuzz_stored_object: an accepted stored object is not canonical\n");
    std::abort();
  }
  return 0;
}
