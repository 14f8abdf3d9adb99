// Several processes on one token (issue 16, "many processes on one device"): worker processes of
// pkcs11_bench itself (hidden mode --process-child), each loading the module, logging in and
// waiting for orders on stdin, so that one, then two of them work in the same time window.
//
//   pkcs11_bench --process-child MODULE SLOT PIN PREFIX
//     prints "ready" once logged in (the key "bench-ec" found), then for each line on stdin
//       sign START_NS END_NS      ECDSA P-256 signatures of a 64-byte message
//       create START_NS END_NS    C_CreateObject of private token AES keys, labelled PREFIXnnnnnnn,
//                                 CKA_ID kProcessObjectId
//       fill FROM TO KIND         C_CreateObject of the bulk objects FROM..TO-1 of KIND (private or
//                                 public: P11Backend::create_objects' labels, ids and attributes),
//                                 at once; prints "filled COUNT"
//       quit
//     waits until START (CLOCK_MONOTONIC, shared by every process), works until END and prints
//     "done OPS CREATED CPU_SECONDS": the operations that finished by END, every object created
//     so far (those that finished after END too), and the process's CPU time in the window.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

// The CKA_ID of every object the worker processes create (for counting them afterwards).
inline const char* const kProcessObjectId = "bench-process-object";

int process_child(int argc, char** argv);

// Workers runs worker processes on one token (one module): they start at once and log in; the
// destructor tells them to quit and waits.
class Workers {
 public:
  // exe: the benchmark itself (/proc/self/exe). prefixes: one per worker, the labels of its
  // objects.
  Workers(const std::string& exe, const std::string& module, unsigned long slot,
          const std::string& pin, const std::vector<std::string>& prefixes);
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  struct Result {
    std::vector<double> rates;  // operations per second, of each worker that worked
    double cores = 0;           // their CPU time over the window's wall time
  };
  // run has the workers in which ("sign" or "create") work in one window of seconds that starts
  // for all of them at the same instant.
  Result run(const std::string& work, const std::vector<size_t>& which, double seconds);
  // created is how many objects the workers created in all (C_CreateObject returned CKR_OK).
  uint64_t created() const;
  // fill has every worker create a share of the bulk objects [from, to) of the kind (true:
  // private) at the same time, and returns once all are made: many processes make a large token
  // faster than one, their commits' fsyncs overlapping (group commit).
  void fill(size_t from, size_t to, bool private_objects);

 private:
  struct Child {
    pid_t pid = -1;
    int to = -1;    // its stdin
    int from = -1;  // its stdout
    std::string buffered;
    uint64_t created = 0;
  };
  std::string read_line(Child& c);
  void send(Child& c, const std::string& line);
  std::vector<Child> children_;
};

}  // namespace bench
