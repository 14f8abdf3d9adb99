// p11_peer: a second process for the store tests. It loads the module (TWINHSM_CONF from the
// environment), works on slot 0, and prints one result line on stdout.
//
//   p11_peer count LABEL            number of visible objects with CKA_LABEL = LABEL
//   p11_peer value LABEL            CKA_VALUE of the one object with that label
//   p11_peer create LABEL VALUE     a public token data object
//   p11_peer create-many PREFIX N   N public token data objects PREFIX0 .. PREFIX{N-1}
//   p11_peer destroy LABEL          destroys every visible object with that label, prints how many
//   p11_peer relabel LABEL NEW      sets CKA_LABEL of every visible object with LABEL to NEW,
//                                   prints how many
//   p11_peer create-private LABEL VALUE   a private token data object (with as-user)
//   p11_peer create-many-private PREFIX N   N private token data objects (with as-user), then
//                                   reads each back by the handle returned; prints N, then the
//                                   CLOCK_MONOTONIC nanoseconds before the first
//                                   C_CreateObject and after each
//   p11_peer as-user PIN COMMAND ...      logs the user in first, then runs COMMAND
//   p11_peer login PIN              C_Login(CKU_USER, PIN), prints the CK_RV name
//   p11_peer flags                  CK_TOKEN_INFO.flags in decimal
//
// Exit 0 on success; 1 with the failing call and its CK_RV on stderr.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "module.h"
#include "p11.h"

using namespace twinhsm::test;
using twinhsm::rv_name;

namespace {

int fail(const char* what, CK_RV rv) {
  std::fprintf(stderr, "p11_peer: %s: %s\n", what, rv_name(rv).c_str());
  return 1;
}

long long monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::vector<CK_OBJECT_HANDLE> by_label(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s,
                                       const std::string& label, CK_RV* rv) {
  Template t;
  t.str(CKA_LABEL, label);
  std::vector<CK_OBJECT_HANDLE> out;
  *rv = find_objects(f, s, t, &out);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: p11_peer COMMAND [ARGS]\n");
    return 2;
  }
  std::string cmd = argv[1];
  auto arg = [&](int i) { return std::string(i < argc ? argv[i] : ""); };
  std::string user_pin;
  if (cmd == "as-user") {
    user_pin = arg(2);
    argv += 2;
    argc -= 2;
    cmd = arg(1);
  }
  Module m;
  CK_FUNCTION_LIST_3_0* f = m.v3();
  if (CK_RV rv = f->C_Initialize(nullptr); rv != CKR_OK)
    return fail("C_Initialize", rv);
  CK_SESSION_HANDLE s;
  if (CK_RV rv = f->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s);
      rv != CKR_OK) {
    return fail("C_OpenSession", rv);
  }
  CK_RV rv = CKR_OK;
  if (!user_pin.empty() &&
      (rv = f->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(user_pin.data()),
                       user_pin.size())) != CKR_OK) {
    return fail("C_Login", rv);
  }
  if (cmd == "count") {
    auto found = by_label(f, s, arg(2), &rv);
    if (rv != CKR_OK)
      return fail("find", rv);
    std::printf("%zu\n", found.size());
  } else if (cmd == "value") {
    auto found = by_label(f, s, arg(2), &rv);
    if (rv != CKR_OK)
      return fail("find", rv);
    if (found.size() != 1)
      return fail("find: not exactly one object", CKR_GENERAL_ERROR);
    Bytes v;
    if ((rv = get_attribute(f, s, found[0], CKA_VALUE, &v)) != CKR_OK)
      return fail("C_GetAttributeValue", rv);
    std::printf("%s\n", std::string(v.begin(), v.end()).c_str());
  } else if (cmd == "create") {
    Template t = data_object(arg(2), arg(3), true, false);
    CK_OBJECT_HANDLE h;
    if ((rv = f->C_CreateObject(s, t.data(), t.size(), &h)) != CKR_OK)
      return fail("C_CreateObject", rv);
    std::printf("%lu\n", h);
  } else if (cmd == "create-private") {
    Template t = data_object(arg(2), arg(3), true, true);
    CK_OBJECT_HANDLE h;
    if ((rv = f->C_CreateObject(s, t.data(), t.size(), &h)) != CKR_OK)
      return fail("C_CreateObject", rv);
    std::printf("%lu\n", h);
  } else if (cmd == "relabel") {
    auto found = by_label(f, s, arg(2), &rv);
    if (rv != CKR_OK)
      return fail("find", rv);
    std::string label = arg(3);
    for (CK_OBJECT_HANDLE h : found) {
      CK_ATTRIBUTE a{CKA_LABEL, label.data(), label.size()};
      if ((rv = f->C_SetAttributeValue(s, h, &a, 1)) != CKR_OK)
        return fail("C_SetAttributeValue", rv);
    }
    std::printf("%zu\n", found.size());
  } else if (cmd == "create-many") {
    int n = std::atoi(arg(3).c_str());
    for (int i = 0; i < n; ++i) {
      Template t = data_object(arg(2) + std::to_string(i), "v", true, false);
      CK_OBJECT_HANDLE h;
      if ((rv = f->C_CreateObject(s, t.data(), t.size(), &h)) != CKR_OK)
        return fail("C_CreateObject", rv);
    }
    std::printf("%d\n", n);
  } else if (cmd == "create-many-private") {
    int n = std::atoi(arg(3).c_str());
    long long start = monotonic_ns();
    std::vector<long long> done;
    std::vector<std::pair<CK_OBJECT_HANDLE, std::string>> made;
    for (int i = 0; i < n; ++i) {
      std::string label = arg(2) + std::to_string(i);
      Template t = data_object(label, "v" + label, true, true);
      CK_OBJECT_HANDLE h;
      if ((rv = f->C_CreateObject(s, t.data(), t.size(), &h)) != CKR_OK)
        return fail("C_CreateObject", rv);
      done.push_back(monotonic_ns());
      made.emplace_back(h, label);
    }
    // Each handle returned names the object made (another process's commit may have carried it).
    for (const auto& [h, label] : made) {
      Bytes l, v;
      if ((rv = get_attribute(f, s, h, CKA_LABEL, &l)) != CKR_OK ||
          (rv = get_attribute(f, s, h, CKA_VALUE, &v)) != CKR_OK)
        return fail("C_GetAttributeValue of a handle C_CreateObject returned", rv);
      if (std::string(l.begin(), l.end()) != label ||
          std::string(v.begin(), v.end()) != "v" + label)
        return fail("a handle C_CreateObject returned names another object", CKR_GENERAL_ERROR);
    }
    std::printf("%d %lld", n, start);
    for (long long t : done) {
      std::printf(" %lld", t);
    }
    std::printf("\n");
  } else if (cmd == "destroy") {
    auto found = by_label(f, s, arg(2), &rv);
    if (rv != CKR_OK)
      return fail("find", rv);
    for (CK_OBJECT_HANDLE h : found) {
      if ((rv = f->C_DestroyObject(s, h)) != CKR_OK)
        return fail("C_DestroyObject", rv);
    }
    std::printf("%zu\n", found.size());
  } else if (cmd == "login") {
    std::string pin = arg(2);
    rv = f->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size());
    std::printf("%s\n", rv_name(rv).c_str());
  } else if (cmd == "flags") {
    CK_TOKEN_INFO info;
    if ((rv = f->C_GetTokenInfo(0, &info)) != CKR_OK)
      return fail("C_GetTokenInfo", rv);
    std::printf("%lu\n", info.flags);
  } else {
    std::fprintf(stderr, "p11_peer: unknown command %s\n", cmd.c_str());
    return 2;
  }
  f->C_Finalize(nullptr);
  return 0;
}
