// Force-included (-include) into fuzz_config's own compile of src/pkcs11/config.cc, ahead of
// toml++: toml++'s internal assertions stay on and abort, except one known finding that every
// run would otherwise stop on (fuzz_config.cc, twinhsm_fuzz_toml_assert).
#pragma once

void twinhsm_fuzz_toml_assert(const char* expr, const char* file, int line);

#define TOML_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : twinhsm_fuzz_toml_assert(#expr, __FILE__, __LINE__))
