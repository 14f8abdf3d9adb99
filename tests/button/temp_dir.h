// A private temporary directory for one test, removed with everything in it afterwards. Short
// paths under /tmp, so that DIR/button.sock fits a Unix socket address.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace twinhsm::button::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/twinhsm-button-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace twinhsm::button::testing
