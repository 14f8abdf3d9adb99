#include "pkcs11/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "common/ck_rv_name.h"

namespace twinhsm::pkcs11::log {

namespace {
std::mutex g_mutex;
FILE* g_out = nullptr;  // guarded by g_mutex

void write_line(const std::string& line) {
  std::lock_guard lock(g_mutex);
  FILE* out = g_out ? g_out : stderr;
  std::fprintf(out, "twinhsm: %s\n", line.c_str());
  std::fflush(out);
}
}  // namespace

void configure(bool debug, const std::string& file) {
  std::lock_guard lock(g_mutex);
  if (g_out) {
    std::fclose(g_out);
    g_out = nullptr;
  }
  if (debug && !file.empty()) {
    g_out = std::fopen(file.c_str(), "a");
  }
  detail::g_enabled.store(debug, std::memory_order_relaxed);
}

void call(const char* name, const std::string& details, CK_RV rv) {
  if (enabled()) {
    write_line(std::string(name) + "(" + details + ") -> " + rv_name(rv));
  }
}

void message(const std::string& text) {
  if (enabled()) {
    write_line(text);
  }
}

}  // namespace twinhsm::pkcs11::log
