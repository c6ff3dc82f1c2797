// A valid shared object that exports a function, but not the ABI entry point.
extern "C" __attribute__((visibility("default"))) int pgdc_broken_not_the_entry_point(void) {
  return 42;
}
