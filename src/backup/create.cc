#include "backup/create.h"

#include <ctime>

#include "backup/records.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/keywrap.h"
#include "crypto/random.h"

namespace twinhsm::backup {

CreateParams CreateParams::random() {
  CreateParams p;
  crypto::random_fill(p.backup_id);
  p.otk = crypto::random_secret(32);
  p.created = static_cast<uint64_t>(std::time(nullptr));
  return p;
}

namespace {

// ChunkWriter cuts the plaintext stream into chunks and seals each; the last one is sealed by
// finish(), so it can carry the "last" flag.
class ChunkWriter {
 public:
  ChunkWriter(const Header& header, ByteView header_bytes, const crypto::SecureBytes& otk,
              AtomicFile& out)
      : header_(header), otk_(otk), out_(out) {
    Bytes h = crypto::digest(crypto::DigestAlg::sha256, header_bytes);
    header_hash_ = h;
  }

  void add(const Record& record) {
    append_record(pending_, record);
    while (pending_.size() > header_.chunk_size) {
      seal(ByteView(pending_).first(header_.chunk_size), false);
      pending_.erase(pending_.begin(), pending_.begin() + header_.chunk_size);
    }
  }

  void finish() { seal(pending_, true); }

 private:
  void seal(ByteView plaintext, bool last) {
    Bytes ct =
        crypto::aes_gcm_encrypt(otk_, chunk_nonce(index_, last),
                                chunk_aad(header_hash_, header_, index_, last), plaintext, kTagLen);
    Bytes framed;
    append_be(framed, ct.size(), 4);
    append(framed, ct);
    out_.write(framed);
    ++index_;
  }

  const Header& header_;
  const crypto::SecureBytes& otk_;
  AtomicFile& out_;
  Bytes header_hash_;
  Bytes pending_;
  uint64_t index_ = 0;
};

}  // namespace

Header write_backup(device::Device& device, const CreateParams& params, AtomicFile& out,
                    button::Press press) {
  (void)press;  // the proof of a press is all it takes
  store::Store& store = device.store();
  const device::SecureElement& se = device.secure_element();
  // One read transaction: the counts, the rows and the end record all come from one snapshot,
  // while applications keep writing (WAL readers do not block writers).
  store::Store::ReadTransaction snapshot(store);
  auto settings = store.settings();
  auto roles = store.roles();
  auto objects = store.count_objects();

  Header header;
  header.backup_id = params.backup_id;
  header.diversifier = se.diversifier;
  header.serial = se.serial;
  header.created = params.created;
  header.chunk_size = params.chunk_size;
  header.counts = {static_cast<uint32_t>(settings.size()), static_cast<uint32_t>(roles.size()),
                   static_cast<uint64_t>(objects.public_objects),
                   static_cast<uint64_t>(objects.private_objects)};
  crypto::SecureBytes kek = se.derive(kKekLabel, kek_context(header), 32);
  Bytes wrapped = crypto::aes_key_wrap(kek, params.otk);
  std::copy(wrapped.begin(), wrapped.end(), header.wrapped_otk.begin());
  Bytes header_bytes = header.encode();
  out.write(header_bytes);

  ChunkWriter chunks(header, header_bytes, params.otk, out);
  for (const auto& [key, value] : settings) {
    Record r;
    r.type = RecordType::setting;
    r.key = key;
    r.value = value;
    chunks.add(r);
  }
  for (const auto& role : roles) {
    Record r;
    r.type = RecordType::role;
    r.role = role;
    chunks.add(r);
  }
  Counts seen{header.counts.settings, header.counts.roles, 0, 0};
  store.for_each_object([&](const store::ObjectRow& row) {
    Record r;
    r.type = RecordType::object;
    r.object = row;
    (row.is_private ? seen.private_objects : seen.public_objects)++;
    chunks.add(r);
  });
  if (!(seen == header.counts)) {
    throw StoreError("the store changed during the backup's snapshot");
  }
  Record end;
  end.type = RecordType::end;
  end.counts = header.counts;
  chunks.add(end);
  chunks.finish();
  return header;
}

}  // namespace twinhsm::backup
