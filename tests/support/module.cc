#include "module.h"

#include <dlfcn.h>

#include <stdexcept>

#include "process.h"

namespace twinhsm::test {

Module::Module(const std::string& path) : path_(path.empty() ? module_path() : path) {
  handle_ = dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* e = dlerror();
    throw std::runtime_error("dlopen " + path_ + ": " + (e ? e : "?"));
  }
  get_function_list_ = reinterpret_cast<CK_C_GetFunctionList>(symbol("C_GetFunctionList"));
  get_interface_list_ = reinterpret_cast<CK_C_GetInterfaceList>(symbol("C_GetInterfaceList"));
  get_interface_ = reinterpret_cast<CK_C_GetInterface>(symbol("C_GetInterface"));
  if (!get_function_list_ || !get_interface_) {
    dlclose(handle_);
    throw std::runtime_error(path_ + " lacks C_GetFunctionList or C_GetInterface");
  }
  CK_VERSION v30{3, 0};
  CK_INTERFACE* iface = nullptr;
  CK_UTF8CHAR name[] = "PKCS 11";
  if (get_interface_(name, &v30, &iface, 0) != CKR_OK || !iface || !iface->pFunctionList) {
    dlclose(handle_);
    throw std::runtime_error(path_ + ": C_GetInterface(\"PKCS 11\", 3.0) failed");
  }
  v3_ = static_cast<CK_FUNCTION_LIST_3_0*>(iface->pFunctionList);
  if (get_function_list_(&v2_) != CKR_OK || !v2_) {
    dlclose(handle_);
    throw std::runtime_error(path_ + ": C_GetFunctionList failed");
  }
}

Module::~Module() {
  if (v3_ && v3_->C_Finalize) {
    v3_->C_Finalize(nullptr);
  }
  dlclose(handle_);
}

void* Module::symbol(const char* name) const {
  return dlsym(handle_, name);
}

}  // namespace twinhsm::test
