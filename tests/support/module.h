// Module is libtwinhsm.so loaded the way an application loads it: dlopen(), then its function
// lists through the exported entry points. The 3.0 list comes from C_GetInterface("PKCS 11",
// {3,0}), the 2.40 list from C_GetFunctionList. The destructor calls C_Finalize (its result
// ignored: the module may not be initialized) so that a failed test cannot leave the library
// initialized for the next one, then dlclose()s.
//
//   Module m;
//   ASSERT_CKR(CKR_OK, m->C_Initialize(nullptr));   // m-> is the 3.0 list
//   m.v2()->C_GetSlotList(...);                     // the 2.40 list
#pragma once

#include <string>

#include "common/pkcs11.h"

namespace twinhsm::test {

class Module {
 public:
  // Loads path (default: module_path()). Throws std::runtime_error if it cannot be loaded or a
  // function list cannot be had.
  explicit Module(const std::string& path = "");
  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  CK_FUNCTION_LIST_3_0* v3() const { return v3_; }
  CK_FUNCTION_LIST* v2() const { return v2_; }
  CK_FUNCTION_LIST_3_0* operator->() const { return v3_; }

  // The exported entry points, looked up with dlsym.
  CK_C_GetFunctionList get_function_list() const { return get_function_list_; }
  CK_C_GetInterfaceList get_interface_list() const { return get_interface_list_; }
  CK_C_GetInterface get_interface() const { return get_interface_; }
  // symbol is dlsym(handle, name) (nullptr when absent).
  void* symbol(const char* name) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
  CK_C_GetFunctionList get_function_list_ = nullptr;
  CK_C_GetInterfaceList get_interface_list_ = nullptr;
  CK_C_GetInterface get_interface_ = nullptr;
  CK_FUNCTION_LIST_3_0* v3_ = nullptr;
  CK_FUNCTION_LIST* v2_ = nullptr;
};

}  // namespace twinhsm::test
