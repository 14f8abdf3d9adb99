#include "backup_fixture.h"

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "test_press.h"

namespace twinhsm::testing {

crypto::SecureBytes example_master_key() {
  crypto::SecureBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(i);
  }
  return key;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "twinhsm-test-XXXXXX").string();
  path_ = ::mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::unique_ptr<device::Device> make_device(const std::filesystem::path& dir,
                                            const device::PersonalizeOptions& options) {
  device::Device::personalize(dir, example_master_key(), options);
  return device::Device::open(dir);
}

Bytes backup_bytes(device::Device& device, const backup::CreateParams& params,
                   const std::filesystem::path& file) {
  backup::AtomicFile out(file, true);
  backup::write_backup(device, params, out, test::test_press());
  out.commit();
  return read_file(file);
}

void write_file(const std::filesystem::path& file, ByteView data) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

Bytes read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace twinhsm::testing
