// Sanitizer settings for this test binary, compiled in so that the CI's
// TSAN_OPTIONS / ASAN_OPTIONS need no suppressions file. They only concern
// libcpprest, a prebuilt library that is not instrumented.
//
// TSan: the reference counts and atomics by which libcpprest's pplx tasks,
// http contexts and stream buffers hand objects between its thread-pool
// threads are invisible to TSan, so freeing such an object is reported as a
// race with its last use on another thread. ignore_noninstrumented_modules
// ignores the memory accesses of interceptors (memcpy, free, ...) called from
// uninstrumented code (synchronization is still tracked); the few remaining
// reports are destructors of cpprest's own objects reached through a reference
// count dropped inside libcpprest. The patterns name cpprest's namespaces only.
//
// LSan: requests still in flight in cpprest's thread pool when the process
// exits (after a timeout or a cancelled watch) leave cpprest's own task graph
// unreleased, including the pplx continuations of an abandoned request that
// are allocated from our code's frames.
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_options() { return "ignore_noninstrumented_modules=1"; }
extern "C" const char* __tsan_default_suppressions() {
  return "race:pplx::details::\n"
         "race:pplx::task_completion_event\n"
         "race:web::http::client::details::\n"
         "race:web::http::details::\n"
         "race:Concurrency::streams::details::\n";
}
#endif
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcpprest.so\n"
         "leak:pplx::details::\n";
}
#endif
