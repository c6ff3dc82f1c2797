/*
 * LD_PRELOAD shim that makes a process see a host suspend: while the test
 * SIGSTOPs the process, it writes the stop's length (nanoseconds, a decimal)
 * into the file named by PGDC_SUSPEND_FILE, then SIGCONTs it. From then on
 * CLOCK_MONOTONIC (and its raw and coarse variants) reads that much lower,
 * as if it had stood still during the stop, exactly what a suspended host's
 * monotonic clock does. CLOCK_BOOTTIME and CLOCK_REALTIME are untouched, as on
 * a real suspend. A process that keeps its deadlines on CLOCK_MONOTONIC then
 * believes a suspend-long interval never passed.
 *
 * The offset is read from a shared mapping of the file (which must exist and
 * hold at least one byte when the process starts; the test rewrites it in
 * place), so it can change at any time without the process making a system
 * call. Test-only code: tests/kube/leadership_contract_test.py.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec*);

static clock_gettime_fn real_clock_gettime;
static volatile const char* offset_text; /* the mapped file, or NULL */

__attribute__((constructor)) static void init(void) {
  real_clock_gettime = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
  const char* path = getenv("PGDC_SUSPEND_FILE");
  if (path == NULL) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  void* p = mmap(NULL, 64, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p != MAP_FAILED) offset_text = (volatile const char*)p;
}

static int64_t offset_ns(void) {
  if (offset_text == NULL) return 0;
  int64_t v = 0;
  for (int i = 0; i < 32; ++i) {
    const char c = offset_text[i];
    if (c < '0' || c > '9') break;
    v = v * 10 + (c - '0');
  }
  return v;
}

int clock_gettime(clockid_t id, struct timespec* ts) {
  if (real_clock_gettime == NULL) init(); /* called before the constructors ran */
  const int rc = real_clock_gettime(id, ts);
  if (rc != 0 ||
      (id != CLOCK_MONOTONIC && id != CLOCK_MONOTONIC_RAW && id != CLOCK_MONOTONIC_COARSE)) {
    return rc;
  }
  const int64_t off = offset_ns();
  if (off == 0) return rc;
  int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec - off;
  ts->tv_sec = (time_t)(ns / 1000000000);
  ts->tv_nsec = (long)(ns % 1000000000);
  return rc;
}
