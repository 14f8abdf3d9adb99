// Default sanitizer options of every fuzzer (the environment's ASAN_OPTIONS / UBSAN_OPTIONS add
// to them and win): any UBSan report is fatal, so that libFuzzer saves the input, and comes with
// its stack.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:report_error_type=1";
}
// A smaller quarantine than the 256 MiB default: the secure allocator mlocks its pages, and the
// fuzzers then run about twice as fast in a fraction of the memory.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=1:quarantine_size_mb=64";
}
