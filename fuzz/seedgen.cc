// fuzz_seedgen CORPUS: writes the generated seeds under CORPUS (fuzz/corpus), as
// fuzz/make_corpus.sh runs it:
//   fuzz_backup_records/  the plaintext of every CORPUS/fuzz_backup/*.twb (decrypted with the
//                         fixed test device's root), in fuzz_backup_records' input format, with
//                         one-chunk and small-chunk framing; and a synthetic stream
//   fuzz_stored_object/   encoded AttributeMaps of a few typical objects
//   fuzz_templates/       templates in template_format.h's format
//   fuzz_mechanisms/      one operation of each kind, in mechanism_format.h's format
// The TOML seeds of fuzz_config are plain files, kept by hand.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "backup/reader.h"
#include "backup/records.h"
#include "fuzz_util.h"
#include "mechanism_format.h"
#include "template_format.h"
#include "token/attributes.h"

using namespace twinhsm;
namespace stdfs = std::filesystem;  // twinhsm::fs is another

namespace {

void save(const stdfs::path& file, ByteView data) {
  stdfs::create_directories(file.parent_path());
  fuzz::write_file(file, data.data(), data.size());
  std::cout << "  " << file.string() << " (" << data.size() << " bytes)\n";
}

// Test values: the P-256 generator as a public point, an OID, a fixed AES key.
const Bytes kP256Oid = from_hex("06082a8648ce3d030107");
const Bytes kEd25519Oid = from_hex("06032b6570");
const Bytes kP256Point = from_hex(
    "044104"
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
const Bytes kEd25519Point =
    from_hex("0420d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const Bytes kAes128 = from_hex("000102030405060708090a0b0c0d0e0f");
const Bytes kAes256 = from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const Bytes kEcScalar =
    from_hex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");

Bytes rsa_modulus() {
  Bytes n(256);
  for (size_t i = 0; i < n.size(); ++i) {
    n[i] = static_cast<uint8_t>(i * 37 + 11);
  }
  n[0] |= 0x80;
  n.back() |= 1;
  return n;
}

// ---- fuzz_templates ----------------------------------------------------------------------

class TemplateWriter {
 public:
  explicit TemplateWriter(Bytes& out) : out_(out) {
    at_ = out_.size();
    out_.push_back(0);
  }
  ~TemplateWriter() = default;

  TemplateWriter& bytes(CK_ATTRIBUTE_TYPE t, ByteView v) {
    type(t);
    if (v.size() < 256) {
      out_.push_back(0);
      out_.push_back(static_cast<uint8_t>(v.size()));
    } else {
      out_.push_back(6);
      append_be(out_, v.size(), 2);
    }
    append(out_, v);
    return *this;
  }
  TemplateWriter& str(CK_ATTRIBUTE_TYPE t, std::string_view s) { return bytes(t, as_bytes(s)); }
  TemplateWriter& ulong(CK_ATTRIBUTE_TYPE t, CK_ULONG v) {
    type(t);
    if (v < 256) {
      out_.push_back(3);
      out_.push_back(static_cast<uint8_t>(v));
    } else {
      out_.push_back(5);
      append_be(out_, v, 8);
    }
    return *this;
  }
  TemplateWriter& boolean(CK_ATTRIBUTE_TYPE t, bool v) {
    type(t);
    out_.push_back(4);
    out_.push_back(v ? 1 : 0);
    return *this;
  }
  TemplateWriter& null(CK_ATTRIBUTE_TYPE t, uint32_t claimed_len = 0) {
    type(t);
    if (claimed_len == 0) {
      out_.push_back(1);
    } else {
      out_.push_back(2);
      append_be(out_, claimed_len, 4);
    }
    return *this;
  }
  // Get-template entries.
  TemplateWriter& query(CK_ATTRIBUTE_TYPE t) {
    type(t);
    out_.push_back(0);
    append_be(out_, 0, 4);
    return *this;
  }
  TemplateWriter& buffer(CK_ATTRIBUTE_TYPE t, size_t len) {
    type(t);
    if (len < 256) {
      out_.push_back(1);
      out_.push_back(static_cast<uint8_t>(len));
    } else {
      out_.push_back(3);
      append_be(out_, len, 2);
    }
    return *this;
  }
  TemplateWriter& short_buffer(CK_ATTRIBUTE_TYPE t, uint8_t len, uint8_t claimed) {
    type(t);
    out_.push_back(2);
    out_.push_back(len);
    out_.push_back(claimed);
    return *this;
  }

 private:
  void type(CK_ATTRIBUTE_TYPE t) {
    ++out_[at_];
    size_t i = fuzz::type_index(t);
    if (i < std::size(fuzz::kTypes) && i < 0xf0) {
      out_.push_back(static_cast<uint8_t>(i));
    } else {
      out_.push_back(0xff);
      append_be(out_, t, 8);
    }
  }
  Bytes& out_;
  size_t at_;
};

void template_seeds(const stdfs::path& dir) {
  using fuzz::kFindUsesCreate;
  auto seed = [&](const char* name, uint8_t flags, auto&& fill) {
    Bytes out{flags};
    fill(out);
    save(dir / name, out);
  };
  seed("data-session-object", kFindUsesCreate, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_DATA)
        .boolean(CKA_TOKEN, false)
        .boolean(CKA_PRIVATE, false)
        .str(CKA_LABEL, "fuzz-data")
        .str(CKA_APPLICATION, "fuzz")
        .str(CKA_VALUE, "hello");
    TemplateWriter(o)
        .buffer(CKA_CLASS, sizeof(CK_ULONG))
        .query(CKA_LABEL)
        .buffer(CKA_VALUE, 5)
        .short_buffer(CKA_APPLICATION, 4, 2)
        .buffer(CKA_KEY_TYPE, 8);
  });
  seed("data-token-private", 0, [](Bytes& o) {
    Bytes big(300, 0x42);
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_DATA)
        .boolean(CKA_TOKEN, true)
        .boolean(CKA_PRIVATE, true)
        .str(CKA_LABEL, "fuzz-private")
        .bytes(CKA_VALUE, big)
        .bytes(CKA_OBJECT_ID, from_hex("06032a0304"));
    TemplateWriter(o).buffer(CKA_VALUE, 300).query(CKA_UNIQUE_ID).buffer(CKA_MODIFIABLE, 1);
    TemplateWriter(o).ulong(CKA_CLASS, CKO_DATA).str(CKA_LABEL, "fuzz-private");
  });
  seed("aes-token-key", 0, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bytes(CKA_VALUE, kAes256)
        .boolean(CKA_TOKEN, true)
        .boolean(CKA_SENSITIVE, true)
        .boolean(CKA_ENCRYPT, true)
        .boolean(CKA_DECRYPT, true)
        .bytes(CKA_ID, from_hex("01"));
    TemplateWriter(o)
        .buffer(CKA_VALUE, 32)
        .buffer(CKA_VALUE_LEN, sizeof(CK_ULONG))
        .buffer(CKA_CHECK_VALUE, 3)
        .buffer(CKA_ALWAYS_SENSITIVE, 1)
        .query(CKA_KEY_GEN_MECHANISM);
    TemplateWriter(o).ulong(CKA_CLASS, CKO_SECRET_KEY).bytes(CKA_ID, from_hex("01"));
  });
  seed("generic-secret-extractable", kFindUsesCreate, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bytes(CKA_VALUE, ByteView(kAes256).first(20))
        .boolean(CKA_SIGN, true)
        .boolean(CKA_VERIFY, true)
        .boolean(CKA_SENSITIVE, false)
        .boolean(CKA_EXTRACTABLE, true);
    TemplateWriter(o).buffer(CKA_VALUE, 20).short_buffer(CKA_VALUE, 20, 10).buffer(CKA_LOCAL, 1);
  });
  seed("ec-p256-public", kFindUsesCreate, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, kP256Oid)
        .bytes(CKA_EC_POINT, kP256Point)
        .boolean(CKA_VERIFY, true)
        .str(CKA_LABEL, "fuzz-ec");
    TemplateWriter(o)
        .buffer(CKA_EC_POINT, kP256Point.size())
        .query(CKA_EC_PARAMS)
        .query(CKA_PUBLIC_KEY_INFO)
        .buffer(CKA_PUBLIC_KEY_INFO, 91);
  });
  seed("ec-p256-private", 0, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC)
        .bytes(CKA_EC_PARAMS, kP256Oid)
        .bytes(CKA_VALUE, kEcScalar)
        .boolean(CKA_SIGN, true)
        .boolean(CKA_TOKEN, true)
        .bytes(CKA_ID, from_hex("02"));
    TemplateWriter(o)
        .buffer(CKA_VALUE, 32)
        .query(CKA_EC_POINT)
        .buffer(CKA_ALWAYS_AUTHENTICATE, 1)
        .query(CKA_PUBLIC_KEY_INFO);
    TemplateWriter(o).ulong(CKA_KEY_TYPE, CKK_EC).bytes(CKA_ID, from_hex("02"));
  });
  seed("ed25519-public", kFindUsesCreate, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS)
        .bytes(CKA_EC_PARAMS, kEd25519Oid)
        .bytes(CKA_EC_POINT, kEd25519Point)
        .boolean(CKA_VERIFY, true);
    TemplateWriter(o).query(CKA_EC_POINT).query(CKA_PUBLIC_KEY_INFO);
  });
  seed("rsa-public", 0, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_RSA)
        .bytes(CKA_MODULUS, rsa_modulus())
        .bytes(CKA_PUBLIC_EXPONENT, from_hex("010001"))
        .boolean(CKA_ENCRYPT, true)
        .boolean(CKA_TOKEN, true);
    TemplateWriter(o).buffer(CKA_MODULUS_BITS, sizeof(CK_ULONG)).buffer(CKA_MODULUS, 256);
    TemplateWriter(o).ulong(CKA_KEY_TYPE, CKK_RSA);
  });
  seed("certificate", kFindUsesCreate, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_CERTIFICATE)
        .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
        .bytes(CKA_SUBJECT, from_hex("3011310f300d06035504030c0666757a7a6572"))
        .bytes(CKA_VALUE, from_hex("3003020101"))
        .bytes(CKA_ID, from_hex("03"))
        .ulong(CKA_CERTIFICATE_CATEGORY, 0)
        .boolean(CKA_TRUSTED, false);
    TemplateWriter(o).query(CKA_VALUE).buffer(CKA_CHECK_VALUE, 3).query(CKA_ISSUER);
  });
  seed("not-destroyable", kFindUsesCreate, [](Bytes& o) {
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_DATA)
        .boolean(CKA_TOKEN, true)
        .boolean(CKA_PRIVATE, false)
        .boolean(CKA_DESTROYABLE, false)
        .boolean(CKA_MODIFIABLE, false)
        .str(CKA_LABEL, "stays");
    TemplateWriter(o).buffer(CKA_DESTROYABLE, 1);
  });
  seed("array-attributes", 0, [](Bytes& o) {
    CK_MECHANISM_TYPE mechs[] = {CKM_AES_GCM, CKM_AES_CBC_PAD};
    TemplateWriter(o)
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bytes(CKA_VALUE, kAes128)
        .bytes(CKA_ALLOWED_MECHANISMS,
               ByteView(reinterpret_cast<const uint8_t*>(mechs), sizeof mechs))
        .bytes(CKA_WRAP_TEMPLATE, Bytes(2 * sizeof(CK_ATTRIBUTE), 0))
        .boolean(CKA_WRAP, true);
    TemplateWriter(o).query(CKA_ALLOWED_MECHANISMS).buffer(CKA_ALLOWED_MECHANISMS, 8);
    TemplateWriter(o).bytes(CKA_ALLOWED_MECHANISMS,
                            ByteView(reinterpret_cast<const uint8_t*>(mechs), sizeof mechs));
  });
  seed("null-pointers", fuzz::kNullCreate | fuzz::kNullGet | fuzz::kNullFoundArray, [](Bytes& o) {
    TemplateWriter(o).ulong(CKA_CLASS, CKO_DATA).null(CKA_LABEL, 16).null(CKA_VALUE);
    TemplateWriter(o).query(CKA_CLASS);
    TemplateWriter(o).null(CKA_LABEL, 4).ulong(CKA_CLASS, CKO_DATA);
  });
  seed("null-values", fuzz::kOneHandlePerCall, [](Bytes& o) {
    TemplateWriter(o).ulong(CKA_CLASS, CKO_DATA).null(CKA_LABEL).null(CKA_VALUE).null(0x80001234);
    TemplateWriter(o).query(CKA_LABEL).buffer(CKA_VALUE, 0).query(0x80001234);
    TemplateWriter(o).null(CKA_LABEL).ulong(CKA_CLASS, CKO_DATA);
  });
}

// ---- fuzz_stored_object --------------------------------------------------------------------

void stored_object_seeds(const stdfs::path& dir) {
  auto seed = [&](const char* name, const token::AttributeMap& m) {
    crypto::SecureBytes enc = m.encode();
    save(dir / name, enc);
  };
  token::AttributeMap empty;
  seed("empty", empty);

  token::AttributeMap data;
  data.set_ulong(CKA_CLASS, CKO_DATA);
  data.set_bool(CKA_TOKEN, true);
  data.set_bool(CKA_PRIVATE, false);
  data.set(CKA_LABEL, as_bytes("fuzz-data"));
  data.set(CKA_VALUE, as_bytes("hello"));
  seed("data-object", data);

  token::AttributeMap aes;
  aes.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
  aes.set_ulong(CKA_KEY_TYPE, CKK_AES);
  aes.set(CKA_VALUE, ByteView(kAes256));
  aes.set_ulong(CKA_VALUE_LEN, 32);
  aes.set_bool(CKA_SENSITIVE, true);
  aes.set_bool(CKA_ENCRYPT, true);
  aes.set(CKA_ID, from_hex("01"));
  aes.set(CKA_UNIQUE_ID, as_bytes("00112233445566778899aabbccddeeff"));
  seed("aes-key", aes);

  token::AttributeMap ec;
  ec.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
  ec.set_ulong(CKA_KEY_TYPE, CKK_EC);
  ec.set(CKA_EC_PARAMS, ByteView(kP256Oid));
  ec.set(CKA_EC_POINT, ByteView(kP256Point));
  ec.set(CKA_VENDOR_DEFINED | 1, as_bytes("vendor"));
  seed("ec-public-key", ec);
}

// ---- fuzz_backup_records -------------------------------------------------------------------

Bytes records_input(uint8_t chunk_selector, const backup::Counts& c, ByteView plain) {
  Bytes out{chunk_selector};
  append_be(out, c.settings, 4);
  append_be(out, c.roles, 4);
  append_be(out, c.public_objects, 8);
  append_be(out, c.private_objects, 8);
  append(out, plain);
  return out;
}

void backup_record_seeds(const stdfs::path& corpus) {
  stdfs::path dir = corpus / "fuzz_backup_records";
  // From the real backups.
  if (stdfs::is_directory(corpus / "fuzz_backup")) {
    for (const auto& entry : stdfs::directory_iterator(corpus / "fuzz_backup")) {
      if (entry.path().extension() != ".twb") {
        continue;
      }
      backup::BackupReader reader(entry.path());
      reader.unlock(fuzz::device_root());
      Bytes plain;
      std::string stem = entry.path().stem().string();
      int n = 0;
      reader.for_each_record([&](const backup::Record& r) {
        backup::append_record(plain, r);
        // A public object's body is its clear stored form: a seed for fuzz_stored_object.
        if (r.type == backup::RecordType::object && !r.object.is_private) {
          save(corpus / "fuzz_stored_object" / (stem + "-object-" + std::to_string(++n)),
               r.object.body);
        }
      });
      save(dir / (stem + "-one-chunk"), records_input(0x80, reader.header().counts, plain));
      save(dir / (stem + "-8-byte-chunks"), records_input(0x07, reader.header().counts, plain));
    }
  }
  // A synthetic stream with one record of each kind.
  Bytes plain;
  backup::Record s;
  s.type = backup::RecordType::setting;
  s.key = "pbkdf2_iterations";
  s.value = from_hex("000003e8");
  backup::append_record(plain, s);
  backup::Record r;
  r.type = backup::RecordType::role;
  r.role.role = 1;
  r.role.iterations = 1000;
  r.role.failures = 0;
  r.role.salt = Bytes(16, 0x5a);
  r.role.wrapped_sk = Bytes(40, 0xa5);
  backup::append_record(plain, r);
  backup::Record o;
  o.type = backup::RecordType::object;
  o.object.id = 7;
  o.object.is_private = true;
  o.object.class_tag = Bytes(16, 1);
  o.object.id_tag = Bytes(16, 2);
  o.object.label_tag = Bytes(16, 3);
  o.object.body = Bytes(48, 4);
  o.object.secret = Bytes(60, 5);
  backup::append_record(plain, o);
  backup::Record e;
  e.type = backup::RecordType::end;
  e.counts = {1, 1, 0, 1};
  backup::append_record(plain, e);
  save(dir / "synthetic-one-of-each", records_input(0x80, e.counts, plain));
  save(dir / "synthetic-3-byte-chunks", records_input(0x02, e.counts, plain));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seedgen CORPUS_DIR\n";
    return 2;
  }
  stdfs::path corpus = argv[1];
  try {
    backup_record_seeds(corpus);
    stored_object_seeds(corpus / "fuzz_stored_object");
    template_seeds(corpus / "fuzz_templates");
    fuzz::mechanisms::mechanism_seeds(corpus / "fuzz_mechanisms");
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seedgen: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
