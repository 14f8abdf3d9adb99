#include "backup/format.h"

#include <algorithm>

#include "backup/byte_reader.h"
#include "crypto/kdf.h"

namespace twinhsm::backup {

Bytes Header::encode() const {
  Bytes out(kMagic.begin(), kMagic.end());
  append_be(out, kFormatVersion, 2);
  size_t length_at = out.size();
  append_be(out, 0, 2);  // header length, filled below
  append(out, backup_id);
  out.push_back(static_cast<uint8_t>(diversifier.size()));
  append(out, as_bytes(diversifier));
  out.push_back(static_cast<uint8_t>(serial.size()));
  append(out, as_bytes(serial));
  append_be(out, created, 8);
  append_be(out, counts.settings, 4);
  append_be(out, counts.roles, 4);
  append_be(out, counts.public_objects, 8);
  append_be(out, counts.private_objects, 8);
  append_be(out, chunk_size, 4);
  append(out, wrapped_otk);
  out[length_at] = static_cast<uint8_t>(out.size() >> 8);
  out[length_at + 1] = static_cast<uint8_t>(out.size());
  return out;
}

Header Header::parse(ByteView data, size_t* consumed) {
  if (data.size() < kMagic.size() || !std::equal(kMagic.begin(), kMagic.end(), data.begin())) {
    throw UsageError("not a twinhsm backup (wrong magic)");
  }
  ByteReader c(data, "the backup header is truncated");
  c.take(kMagic.size());
  uint64_t version = c.be(2);
  if (version < kFirstFormatVersion || version > kFormatVersion) {
    throw UsageError("backup format version " + std::to_string(version) +
                     " is not supported by this twinhsm (it reads versions 1 and 2)");
  }
  uint64_t length = c.be(2);
  Header h;
  h.version = static_cast<uint16_t>(version);
  ByteView id = c.take(kBackupIdLen);
  std::copy(id.begin(), id.end(), h.backup_id.begin());
  ByteView div = c.take(c.be(1));
  h.diversifier.assign(div.begin(), div.end());
  ByteView serial = c.take(c.be(1));
  h.serial.assign(serial.begin(), serial.end());
  h.created = c.be(8);
  h.counts.settings = static_cast<uint32_t>(c.be(4));
  h.counts.roles = static_cast<uint32_t>(c.be(4));
  h.counts.public_objects = c.be(8);
  h.counts.private_objects = c.be(8);
  h.chunk_size = static_cast<uint32_t>(c.be(4));
  ByteView wrapped = c.take(kWrappedOtkLen);
  std::copy(wrapped.begin(), wrapped.end(), h.wrapped_otk.begin());
  if (c.pos() != length) {
    throw IntegrityError("the backup header length does not match its fields");
  }
  if (h.chunk_size == 0 || h.chunk_size > (16u << 20) || h.diversifier.empty()) {
    throw IntegrityError("the backup header holds an invalid field");
  }
  *consumed = c.pos();
  return h;
}

Bytes kek_context(const Header& header) {
  Bytes context(header.backup_id.begin(), header.backup_id.end());
  append(context, as_bytes(header.diversifier));
  return context;
}

crypto::SecureBytes derive_kek(std::span<const uint8_t> device_root, const Header& header) {
  return crypto::kbkdf_counter_hmac_sha256(device_root, kKekLabel, kek_context(header), 32);
}

Bytes chunk_nonce(uint64_t index, bool last) {
  Bytes nonce;
  append_be(nonce, index, 8);
  append_be(nonce, last ? 1 : 0, 4);
  return nonce;
}

Bytes chunk_aad(ByteView header_hash, const Header& header, uint64_t index, bool last) {
  Bytes aad(kChunkAadLabel.begin(), kChunkAadLabel.end());
  append(aad, header_hash);
  append(aad, header.backup_id);
  append_be(aad, index, 8);
  aad.push_back(last ? 1 : 0);
  return aad;
}

}  // namespace twinhsm::backup
