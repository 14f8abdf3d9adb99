// The backup file format, version 2 (docs/backup-format.md specifies every byte; version 1, read
// too, is the same but for the objects' attribute encoding, which was the host's):
//
//   header   magic "TWHSMBAK", version, header length, backup id, diversifier, source serial,
//            creation time, record counts, chunk size, wrapped OTK (AES-KW under the KEK)
//   chunks   each: ciphertext length (4 bytes) || AES-256-GCM(OTK) ciphertext || tag
//            nonce = index (8 bytes BE) || last (4 bytes BE: 1 on the last chunk, else 0)
//            AAD   = "twinhsm backup chunk v1" || SHA-256(header) || backup id || index (8) || last
//            (1)
//
// The plaintext, cut into chunks of chunk_size bytes, is a stream of records (settings, roles,
// objects exactly as stored, then an end record repeating the counts).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::backup {

inline constexpr std::array<uint8_t, 8> kMagic = {'T', 'W', 'H', 'S', 'M', 'B', 'A', 'K'};
inline constexpr uint16_t kFormatVersion = 2;
// kFirstFormatVersion: the oldest version read (its objects' CK_ULONG values in the x86-64 layout).
inline constexpr uint16_t kFirstFormatVersion = 1;
inline constexpr uint32_t kDefaultChunkSize = 64 * 1024;
inline constexpr size_t kBackupIdLen = 16;
inline constexpr size_t kWrappedOtkLen = 40;
inline constexpr size_t kTagLen = 16;
inline constexpr std::string_view kKekLabel = "twinhsm backup kek v1";
inline constexpr std::string_view kChunkAadLabel = "twinhsm backup chunk v1";

struct Counts {
  uint32_t settings = 0;
  uint32_t roles = 0;
  uint64_t public_objects = 0;
  uint64_t private_objects = 0;
  bool operator==(const Counts&) const = default;
};

struct Header {
  uint16_t version = kFormatVersion;  // written: always kFormatVersion
  std::array<uint8_t, kBackupIdLen> backup_id{};
  std::string diversifier;
  std::string serial;
  uint64_t created = 0;  // Unix time, seconds
  Counts counts;
  uint32_t chunk_size = kDefaultChunkSize;
  std::array<uint8_t, kWrappedOtkLen> wrapped_otk{};

  // encode gives the header's bytes; parse reads them back. parse throws IntegrityError on a
  // malformed or truncated header, UsageError("not a twinhsm backup") on a wrong magic.
  Bytes encode() const;
  static Header parse(ByteView data, size_t* consumed);
};

// derive_kek: SP 800-108 counter KDF (HMAC-SHA256) with key FK || DBK (device_root), label
// "twinhsm backup kek v1", context = kek_context(header) = backup id || diversifier. A device
// derives it in its secure element: se.derive(kKekLabel, kek_context(header), 32).
crypto::SecureBytes derive_kek(std::span<const uint8_t> device_root, const Header& header);
Bytes kek_context(const Header& header);

// chunk_nonce and chunk_aad build the per-chunk GCM inputs.
Bytes chunk_nonce(uint64_t index, bool last);
Bytes chunk_aad(ByteView header_hash, const Header& header, uint64_t index, bool last);

// Records of the plaintext stream.
enum class RecordType : uint8_t { setting = 1, role = 2, object = 3, end = 0xff };

}  // namespace twinhsm::backup
