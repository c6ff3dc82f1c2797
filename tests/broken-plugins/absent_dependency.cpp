// The library missing-dependency.so links against; installed under a file
// name that differs from its SONAME, so the loader never finds it.
extern "C" __attribute__((visibility("default"))) int pgdc_broken_dep_function(void) { return 0; }
