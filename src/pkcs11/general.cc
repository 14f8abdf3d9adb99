// General-purpose, slot and token functions (PKCS#11 3.0 sections 5.4-5.5).
#include <cstdio>

#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "token/algorithm_policy.h"
#include "token/mechanisms.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

namespace {

constexpr CK_VERSION kLibraryVersion = {0, 1};
constexpr CK_VERSION kCryptokiVersion = {3, 0};

void fill_token_info(Slot& slot, CK_TOKEN_INFO* info) {
  device::Device* d = slot.device();
  require(d != nullptr, CKR_TOKEN_NOT_PRESENT, "no device in the slot's directory");
  token::Token& t = d->token();
  *info = {};
  pad(info->label, t.label());
  pad(info->manufacturerID, "twinhsm project");
  pad(info->model, "twinhsm");
  pad(info->serialNumber, d->secure_element().serial);
  CK_FLAGS flags = CKF_RNG | CKF_LOGIN_REQUIRED;
  token::PinState so = t.pin_state(token::Role::so);
  token::PinState user = t.pin_state(token::Role::user);
  if (so.initialized) {
    flags |= CKF_TOKEN_INITIALIZED;
  }
  if (user.initialized) {
    flags |= CKF_USER_PIN_INITIALIZED;
  }
  // COUNT_LOW: a wrong PIN was given since the last success; FINAL_TRY: the next wrong PIN
  // locks (with a limit of 1, always); LOCKED: at the limit. A TPM device's TPM counts too
  // (token::PinState::guard_remaining).
  auto pin_flags = [&](const token::PinState& s, CK_FLAGS low, CK_FLAGS final_try,
                       CK_FLAGS locked) {
    if (!s.initialized) {
      return;
    }
    if (s.locked()) {
      flags |= locked;
      return;
    }
    if (s.failures > 0) {
      flags |= low;
    }
    if (s.final_try()) {
      flags |= final_try;
    }
  };
  pin_flags(user, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
  pin_flags(so, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
  info->flags = flags;
  auto [all, rw] = library().session_counts(slot);
  info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulSessionCount = all;
  info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulRwSessionCount = rw;
  info->ulMaxPinLen = token::kMaxPinLength;
  info->ulMinPinLen = token::kMinPinLength;
  info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->hardwareVersion = kLibraryVersion;
  info->firmwareVersion = kLibraryVersion;
  std::memset(info->utcTime, ' ', sizeof info->utcTime);
}

}  // namespace

extern "C" {

CK_RV C_Initialize(CK_VOID_PTR init_args) {
  return guard("C_Initialize", "", [&] {
    if (init_args) {
      auto* args = static_cast<CK_C_INITIALIZE_ARGS*>(init_args);
      require(args->pReserved == nullptr, CKR_ARGUMENTS_BAD, "pReserved must be NULL");
      int given = (args->CreateMutex != nullptr) + (args->DestroyMutex != nullptr) +
                  (args->LockMutex != nullptr) + (args->UnlockMutex != nullptr);
      require(given == 0 || given == 4, CKR_ARGUMENTS_BAD, "give all four mutex functions or none");
      // twinhsm always locks with the OS's primitives; an application that supplies its own
      // mutexes and forbids OS locking cannot be served.
      require(given == 0 || (args->flags & CKF_OS_LOCKING_OK), CKR_CANT_LOCK,
              "twinhsm needs OS locking (CKF_OS_LOCKING_OK)");
    }
    try {
      library().initialize();
    } catch (const UsageError& e) {
      std::fprintf(stderr, "twinhsm: %s\n", e.what());
      throw CkError(CKR_GENERAL_ERROR, e.what());
    }
  });
}

CK_RV C_Finalize(CK_VOID_PTR reserved) {
  return guard("C_Finalize", "", [&] {
    require(reserved == nullptr, CKR_ARGUMENTS_BAD, "pReserved must be NULL");
    library().finalize();
  });
}

CK_RV C_GetInfo(CK_INFO_PTR info) {
  return guard("C_GetInfo", "", [&] {
    require_arg(info != nullptr);
    library().slots();  // CKR_CRYPTOKI_NOT_INITIALIZED before C_Initialize
    *info = {};
    info->cryptokiVersion = kCryptokiVersion;
    pad(info->manufacturerID, "twinhsm project");
    pad(info->libraryDescription, "twinhsm PKCS#11 module");
    info->libraryVersion = kLibraryVersion;
  });
}

CK_RV C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  return guard("C_GetSlotList", "", [&] {
    require_arg(count != nullptr);
    std::vector<CK_SLOT_ID> ids;
    for (Slot* s : library().slots()) {
      if (!token_present || s->device()) {
        ids.push_back(s->id());
      }
    }
    CK_ULONG available = *count;
    *count = ids.size();
    if (list) {
      require(available >= ids.size(), CKR_BUFFER_TOO_SMALL, "the slot list is too small");
      std::copy(ids.begin(), ids.end(), list);
    }
  });
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slot_id, CK_SLOT_INFO_PTR info) {
  return guard("C_GetSlotInfo", arg(slot_id), [&] {
    require_arg(info != nullptr);
    Slot& slot = library().slot(slot_id);
    *info = {};
    pad(info->slotDescription, "twinhsm device " + slot.dir().string());
    pad(info->manufacturerID, "twinhsm project");
    info->flags = slot.device() ? CKF_TOKEN_PRESENT : 0;
    info->hardwareVersion = kLibraryVersion;
    info->firmwareVersion = kLibraryVersion;
  });
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slot_id, CK_TOKEN_INFO_PTR info) {
  return guard("C_GetTokenInfo", arg(slot_id), [&] {
    require_arg(info != nullptr);
    fill_token_info(library().slot(slot_id), info);
  });
}

CK_RV C_GetMechanismList(CK_SLOT_ID slot_id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
  return guard("C_GetMechanismList", arg(slot_id), [&] {
    require_arg(count != nullptr);
    // What the slot's device offers: its algorithm policy decides (token/mechanism_table.h).
    auto all = token::mechanisms(token::algorithm_policy(library().slot(slot_id).token()));
    CK_ULONG available = *count;
    *count = all.size();
    if (list) {
      require(available >= all.size(), CKR_BUFFER_TOO_SMALL, "the mechanism list is too small");
      for (size_t i = 0; i < all.size(); ++i) {
        list[i] = all[i].type;
      }
    }
  });
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slot_id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
  return guard("C_GetMechanismInfo", arg(slot_id), [&] {
    require_arg(info != nullptr);
    auto m = token::offered_info(token::algorithm_policy(library().slot(slot_id).token()), type);
    require(m.has_value(), CKR_MECHANISM_INVALID,
            "the device does not offer the mechanism (twinhsm device info shows its algorithm "
            "policy)");
    info->ulMinKeySize = m->min_key_size;
    info->ulMaxKeySize = m->max_key_size;
    info->flags = m->flags;
  });
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved) {
  return guard("C_WaitForSlotEvent", "", [&] {
    library().slots();
    require(slot != nullptr && reserved == nullptr, CKR_ARGUMENTS_BAD,
            "C_WaitForSlotEvent needs pSlot, and pReserved NULL");
    // A slot is a device directory and its token is always present: no event ever comes. Asked
    // not to block, say so; a blocking wait would never return.
    require(!(flags & CKF_DONT_BLOCK), CKR_NO_EVENT, "no slot event (tokens are never removed)");
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED,
                  "slot events are not supported (tokens are never removed): a wait would never "
                  "end");
  });
}

}  // extern "C"
