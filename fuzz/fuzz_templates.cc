// fuzz_templates: attribute templates through the module's real entry points, in process (the
// PKCS#11 implementation library is linked in statically). LLVMFuzzerInitialize makes a device
// on tmpfs with the device and token API (fixed master key, PBKDF2 1000 iterations, token and
// user PIN set), points TWINHSM_CONF at it, calls C_Initialize, opens one read-write session and
// logs the user in. Each input (format: template_format.h) then runs
//   C_CreateObject(create template)
//   C_GetAttributeValue(new object, get template)        when the create succeeded
//   C_FindObjectsInit(find template), C_FindObjects until done, C_FindObjectsFinal
//   C_DestroyObject(new object)
// Any CK_RV is fine; a crash, a sanitizer report, a leak or a hang is a finding, and so is a
// C_GetAttributeValue that reports writing more than the buffer it was given.
//
// Every input starts from the same state: an empty store and the user logged in. When an
// object cannot be destroyed (CKA_DESTROYABLE false) or the login was lost, the token is
// initialized afresh through C_InitToken.
//
// With TWINHSM_FUZZ_STRICT=1, CKR_GENERAL_ERROR (an unexpected exception inside the module) and
// CKR_DEVICE_ERROR (a store that fails) also abort. TWINHSM_FUZZ_LOG=1 shows every call.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "p11_fixture.h"
#include "pkcs11/marshal.h"
#include "template_format.h"

using namespace twinhsm;

namespace {

using fuzz::check;
using fuzz::kSlot;
using fuzz::pin;
using fuzz::strict_check;

CK_SESSION_HANDLE g_session = CK_INVALID_HANDLE;

// reset brings the token back to its initial state: no objects, one session, the user logged in.
void reset() {
  check("C_CloseAllSessions", C_CloseAllSessions(kSlot));
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  std::memcpy(label, "fuzz", 4);
  check("C_InitToken", C_InitToken(kSlot, pin(fuzz::kSoPin), std::strlen(fuzz::kSoPin), label));
  CK_SESSION_HANDLE s;
  check("C_OpenSession(SO)",
        C_OpenSession(kSlot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s));
  check("C_Login(SO)", C_Login(s, CKU_SO, pin(fuzz::kSoPin), std::strlen(fuzz::kSoPin)));
  check("C_InitPIN", C_InitPIN(s, pin(fuzz::kUserPin), std::strlen(fuzz::kUserPin)));
  check("C_CloseSession(SO)", C_CloseSession(s));
  g_session = fuzz::open_user_session();
}

bool logged_in() {
  CK_SESSION_INFO info;
  return C_GetSessionInfo(g_session, &info) == CKR_OK && info.state == CKS_RW_USER_FUNCTIONS;
}

// A template decoded from the input. Each value or buffer is its own exact-size heap block.
class Template {
 public:
  CK_ATTRIBUTE* data() { return attrs_.data(); }
  CK_ULONG count() const { return attrs_.size(); }

  // read_values decodes a create or find template. The value of a template attribute
  // (CKA_WRAP_TEMPLATE, ...) given as bytes is an array of CK_ATTRIBUTE for the module, which
  // follows its pointers as PKCS#11 says: the bytes are decoded as a nested template in this
  // same format (at the top level; nested deeper, the module refuses it before reading it).
  void read_values(fuzz::Input& in, bool nested = false) {
    size_t n = in.byte() % fuzz::kMaxAttributes;
    for (size_t i = 0; i < n; ++i) {
      CK_ATTRIBUTE_TYPE type = read_type(in);
      uint8_t form = in.byte() % 8;
      if (!nested && pkcs11::is_template_attribute(type) && (form == 0 || form == 6)) {
        ByteView bytes = in.take(form == 0 ? in.byte() : static_cast<size_t>(in.be(2)));
        fuzz::Input sub(bytes.data(), bytes.size());
        auto inner = std::make_unique<Template>();
        inner->read_values(sub, true);
        CK_ATTRIBUTE a{type, inner->data(),
                       static_cast<CK_ULONG>(inner->count() * sizeof(CK_ATTRIBUTE))};
        push(a, nullptr, a.ulValueLen);
        nested_.push_back(std::move(inner));
        continue;
      }
      switch (form) {
        case 0:
          add(type, in.take(in.byte()));
          break;
        case 1:
          push({type, nullptr, 0}, nullptr, 0);
          break;
        case 2:
          push({type, nullptr, static_cast<CK_ULONG>(in.be(4))}, nullptr, 0);
          break;
        case 3:
          add_ulong(type, in.byte());
          break;
        case 4: {
          CK_BBOOL b = in.byte();
          add(type, ByteView(&b, 1));
          break;
        }
        case 5:
          add_ulong(type, static_cast<CK_ULONG>(in.be(8)));
          break;
        case 6:
          add(type, in.take(static_cast<size_t>(in.be(2))));
          break;
        case 7:
          add(type, ByteView());
          break;
      }
    }
  }

  // read_buffers decodes a get template.
  void read_buffers(fuzz::Input& in) {
    size_t n = in.byte() % fuzz::kMaxAttributes;
    for (size_t i = 0; i < n; ++i) {
      CK_ATTRIBUTE_TYPE type = read_type(in);
      switch (in.byte() % 4) {
        case 0:
          push({type, nullptr, static_cast<CK_ULONG>(in.be(4))}, nullptr, 0);
          break;
        case 1: {
          size_t len = in.byte();
          buffer(type, len, len);
          break;
        }
        case 2: {
          size_t len = in.byte();
          buffer(type, len, in.byte() % (len + 1));
          break;
        }
        case 3: {
          size_t len = static_cast<size_t>(in.be(2));
          buffer(type, len, len);
          break;
        }
      }
    }
  }

  // check_lengths: after C_GetAttributeValue, no attribute may claim more bytes than its buffer.
  void check_lengths() const {
    for (size_t i = 0; i < attrs_.size(); ++i) {
      const CK_ATTRIBUTE& a = attrs_[i];
      if (a.pValue != nullptr && a.ulValueLen != CK_UNAVAILABLE_INFORMATION &&
          a.ulValueLen > sizes_[i]) {
        std::fprintf(stderr,
                     "fuzz_templates: C_GetAttributeValue says it wrote %lu bytes of attribute "
                     "0x%lx into a %zu-byte buffer\n",
                     static_cast<unsigned long>(a.ulValueLen), static_cast<unsigned long>(a.type),
                     sizes_[i]);
        std::abort();
      }
    }
  }

 private:
  static CK_ATTRIBUTE_TYPE read_type(fuzz::Input& in) {
    uint8_t t = in.byte();
    if (t < 0xf0) {
      return fuzz::kTypes[t % std::size(fuzz::kTypes)];
    }
    return static_cast<CK_ATTRIBUTE_TYPE>(in.be(8));
  }

  void push(CK_ATTRIBUTE a, std::unique_ptr<uint8_t[]> block, size_t size) {
    attrs_.push_back(a);
    sizes_.push_back(size);
    blocks_.push_back(std::move(block));
  }

  void add(CK_ATTRIBUTE_TYPE type, ByteView value) {
    auto block = std::make_unique<uint8_t[]>(value.size());
    if (!value.empty()) {
      std::memcpy(block.get(), value.data(), value.size());
    }
    CK_ATTRIBUTE a{type, block.get(), static_cast<CK_ULONG>(value.size())};
    push(a, std::move(block), value.size());
  }

  void add_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG v) {
    add(type, ByteView(reinterpret_cast<const uint8_t*>(&v), sizeof v));
  }

  void buffer(CK_ATTRIBUTE_TYPE type, size_t size, size_t claimed) {
    auto block = std::make_unique<uint8_t[]>(size);
    std::memset(block.get(), 0xa5, size);
    if (pkcs11::is_template_attribute(type)) {
      // An array attribute's buffer is an array of CK_ATTRIBUTE the module writes through: size
      // queries (NULL pValue) of some attribute types, as a caller's second call would give.
      for (size_t i = 0; (i + 1) * sizeof(CK_ATTRIBUTE) <= size; ++i) {
        CK_ATTRIBUTE q{fuzz::kTypes[i % std::size(fuzz::kTypes)], nullptr, 0};
        std::memcpy(block.get() + i * sizeof(CK_ATTRIBUTE), &q, sizeof q);
      }
    }
    CK_ATTRIBUTE a{type, block.get(), static_cast<CK_ULONG>(claimed)};
    push(a, std::move(block), size);
  }

  std::vector<CK_ATTRIBUTE> attrs_;
  std::vector<size_t> sizes_;  // the size of each attribute's block (0 for NULL)
  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  std::vector<std::unique_ptr<Template>> nested_;  // the nested templates' attributes
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_module();
  g_session = fuzz::open_user_session();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  uint8_t flags = in.byte();
  Template create, get, find_own;
  create.read_values(in);
  get.read_buffers(in);
  Template* find = &create;
  if (!(flags & fuzz::kFindUsesCreate)) {
    find_own.read_values(in);
    find = &find_own;
  }

  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  CK_RV rv =
      strict_check("C_CreateObject",
                   C_CreateObject(g_session, (flags & fuzz::kNullCreate) ? nullptr : create.data(),
                                  create.count(), &object));
  bool created = rv == CKR_OK;
  if (created) {
    strict_check("C_GetAttributeValue",
                 C_GetAttributeValue(g_session, object,
                                     (flags & fuzz::kNullGet) ? nullptr : get.data(), get.count()));
    get.check_lengths();
  }

  rv = strict_check("C_FindObjectsInit",
                    C_FindObjectsInit(g_session, (flags & fuzz::kNullFind) ? nullptr : find->data(),
                                      find->count()));
  if (rv == CKR_OK) {
    CK_OBJECT_HANDLE found[16];
    CK_ULONG max = (flags & fuzz::kOneHandlePerCall) ? 1 : 16;
    for (int calls = 0; calls < 64; ++calls) {
      CK_ULONG n = 0;
      rv = strict_check(
          "C_FindObjects",
          C_FindObjects(g_session, (flags & fuzz::kNullFoundArray) ? nullptr : found, max, &n));
      if (rv != CKR_OK || n == 0) {
        break;
      }
      if (n > max) {
        fuzz::fail("C_FindObjects returned more handles than asked", rv);
      }
    }
    check("C_FindObjectsFinal", C_FindObjectsFinal(g_session));
  }

  bool clean = true;
  if (created) {
    clean = strict_check("C_DestroyObject", C_DestroyObject(g_session, object)) == CKR_OK;
  }
  if (!clean || !logged_in()) {
    reset();
  }
  return 0;
}
