#include "backup/reader.h"

#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/keywrap.h"

namespace twinhsm::backup {

namespace {

constexpr size_t kMaxHeader = 1024;

size_t read_some(std::ifstream& in, uint8_t* data, size_t n) {
  in.read(reinterpret_cast<char*>(data), static_cast<std::streamsize>(n));
  return static_cast<size_t>(in.gcount());
}

}  // namespace

BackupReader::BackupReader(const std::filesystem::path& file) : path_(file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw UsageError("cannot read the backup file " + file.string());
  }
  std::error_code ec;
  file_size_ = std::filesystem::file_size(file, ec);
  Bytes head(kMaxHeader);
  head.resize(read_some(in, head.data(), head.size()));
  size_t consumed = 0;
  header_ = Header::parse(head, &consumed);
  header_bytes_.assign(head.begin(), head.begin() + static_cast<long>(consumed));
}

void BackupReader::unlock(std::span<const uint8_t> device_root) {
  unlock_with_kek(derive_kek(device_root, header_));
}

void BackupReader::unlock_with_kek(const crypto::SecureBytes& kek) {
  try {
    otk_ = crypto::aes_key_unwrap(kek, header_.wrapped_otk);
  } catch (const IntegrityError&) {
    throw IntegrityError(
        "this device cannot open the backup: its backup key differs from that of the device that "
        "made it (another diversifier, factory master key or firmware key), or the header was "
        "altered");
  }
}

void BackupReader::for_each_record(const std::function<void(const Record&)>& visit) {
  if (otk_.empty()) {
    throw UsageError("the backup is locked: unlock it with a device first");
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    throw UsageError("cannot read the backup file " + path_.string());
  }
  in.seekg(static_cast<std::streamoff>(header_bytes_.size()));
  Bytes header_hash = crypto::digest(crypto::DigestAlg::sha256, header_bytes_);
  const size_t max_chunk = header_.chunk_size + kTagLen;

  RecordParser parser;
  Counts seen;
  bool ended = false;
  uint64_t index = 0;
  Bytes frame(max_chunk);
  uint8_t len_bytes[4];
  size_t got = read_some(in, len_bytes, 4);
  while (true) {
    if (got != 4) {
      throw IntegrityError("the backup is truncated (a chunk is missing)");
    }
    size_t len = size_t{len_bytes[0]} << 24 | size_t{len_bytes[1]} << 16 |
                 size_t{len_bytes[2]} << 8 | len_bytes[3];
    if (len < kTagLen || len > max_chunk) {
      throw IntegrityError("the backup holds a chunk of an impossible size");
    }
    frame.resize(len);
    if (read_some(in, frame.data(), len) != len) {
      throw IntegrityError("the backup is truncated inside a chunk");
    }
    // A chunk is the last one when the file ends right after it; it was sealed as such only if
    // it really is the last: truncation at a chunk boundary fails here.
    got = read_some(in, len_bytes, 4);
    bool last = got == 0;
    crypto::SecureBytes plain;
    try {
      plain = crypto::aes_gcm_decrypt(otk_, chunk_nonce(index, last),
                                      chunk_aad(header_hash, header_, index, last), frame, kTagLen);
    } catch (const IntegrityError&) {
      throw IntegrityError("the backup failed authentication at chunk " + std::to_string(index) +
                           " (altered, truncated, reordered or from another backup)");
    }
    parser.feed(plain);
    while (auto record = parser.next()) {
      if (ended) {
        throw IntegrityError("the backup holds data after its end record");
      }
      switch (record->type) {
        case RecordType::setting:
          ++seen.settings;
          break;
        case RecordType::role:
          ++seen.roles;
          break;
        case RecordType::object:
          (record->object.is_private ? seen.private_objects : seen.public_objects)++;
          break;
        case RecordType::end:
          ended = true;
          if (!(record->counts == header_.counts) || !(seen == header_.counts)) {
            throw IntegrityError("the backup's record counts do not match its header");
          }
          break;
      }
      visit(*record);
    }
    ++index;
    if (last) {
      break;
    }
  }
  if (!ended || !parser.empty()) {
    throw IntegrityError("the backup ends without its end record");
  }
}

}  // namespace twinhsm::backup
