// fuzz_softhsm2_object: a SoftHSMv2 object file (src/import/object_file.h) as `twinhsm import
// softhsm2` reads it: import::parse_object_file, then source_object (the private values decrypted
// with the token key of tests/data/vectors/softhsm2, whose object files are the seeds) and
// plan_object. Each must return or throw twinhsm::Error; no value parsed is longer than the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "import/plan.h"
#include "import/softhsm2_token.h"

using namespace twinhsm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const crypto::SecureBytes token_key = crypto::secure_copy(
      from_hex("1b06228a7a423bc33df01d6113f5304dba120287fec823cd5659fc02709bf55c"));
  import::ObjectFile file;
  try {
    file = import::parse_object_file(ByteView(data, size));
  } catch (const twinhsm::Error&) {
    return 0;
  }
  for (const auto& [type, a] : file.attributes) {
    if (a.bytes.size() > size || a.mechanisms.size() > size / 8) {
      std::fprintf(stderr, "fuzz_softhsm2_object: a value longer than the input\n");
      std::abort();
    }
  }
  try {
    import::SourceObject source = import::source_object("fuzz.object", file, token_key);
    import::Candidate c = import::plan_object(source);
    (void)c.describe();
  } catch (const twinhsm::Error&) {
  }
  return 0;
}
