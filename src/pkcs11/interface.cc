// The function lists and the interface functions: the module's only exported symbols.
#include <cstring>

#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"

using namespace twinhsm::pkcs11;

#define TWINHSM_FUNCTIONS_2_40                                                                     \
  C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,            \
      C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,    \
      C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,    \
      C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,       \
      C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, \
      C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,               \
      C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,           \
      C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal,   \
      C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,     \
      C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate,          \
      C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey,     \
      C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,               \
      C_CancelFunction, C_WaitForSlotEvent

namespace {

CK_FUNCTION_LIST g_functions_2_40 = {{2, 40}, TWINHSM_FUNCTIONS_2_40};

CK_FUNCTION_LIST_3_0 g_functions_3_0 = {
    {3, 0},
    TWINHSM_FUNCTIONS_2_40,
    C_GetInterfaceList,
    C_GetInterface,
    C_LoginUser,
    C_SessionCancel,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal,
    C_MessageSignInit,
    C_SignMessage,
    C_SignMessageBegin,
    C_SignMessageNext,
    C_MessageSignFinal,
    C_MessageVerifyInit,
    C_VerifyMessage,
    C_VerifyMessageBegin,
    C_VerifyMessageNext,
    C_MessageVerifyFinal,
};

CK_UTF8CHAR g_interface_name[] = "PKCS 11";

CK_INTERFACE g_interfaces[] = {
    {g_interface_name, &g_functions_3_0, 0},
    {g_interface_name, &g_functions_2_40, 0},
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  return guard("C_GetFunctionList", "", [&] {
    require_arg(list != nullptr);
    *list = &g_functions_2_40;
  });
}

__attribute__((visibility("default"))) CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list,
                                                                CK_ULONG_PTR count) {
  return guard("C_GetInterfaceList", "", [&] {
    require_arg(count != nullptr);
    constexpr CK_ULONG n = sizeof g_interfaces / sizeof g_interfaces[0];
    CK_ULONG available = *count;
    *count = n;
    if (list) {
      twinhsm::token::require(available >= n, CKR_BUFFER_TOO_SMALL,
                              "the interface list is too small");
      std::memcpy(list, g_interfaces, sizeof g_interfaces);
    }
  });
}

__attribute__((visibility("default"))) CK_RV C_GetInterface(CK_UTF8CHAR_PTR name,
                                                            CK_VERSION_PTR version,
                                                            CK_INTERFACE_PTR_PTR iface,
                                                            CK_FLAGS flags) {
  return guard("C_GetInterface", "", [&] {
    require_arg(iface != nullptr);
    for (CK_INTERFACE& candidate : g_interfaces) {
      const auto* list = static_cast<const CK_VERSION*>(candidate.pFunctionList);
      bool name_ok =
          name == nullptr || std::strcmp(reinterpret_cast<const char*>(name), "PKCS 11") == 0;
      bool version_ok =
          version == nullptr || (version->major == list->major && version->minor == list->minor);
      bool flags_ok = (candidate.flags & flags) == flags;
      if (name_ok && version_ok && flags_ok) {
        *iface = &candidate;
        return;
      }
    }
    throw twinhsm::token::CkError(CKR_ARGUMENTS_BAD, "no interface matches the request");
  });
}

}  // extern "C"
