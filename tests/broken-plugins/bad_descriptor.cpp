// A plugin whose descriptor breaks one rule, chosen at compile time:
//   BROKEN_MAGIC, BROKEN_SIZE, BROKEN_ABI_MAJOR, BROKEN_ABI_MINOR: field values
//   BROKEN_VTABLE: 0 valid, 1 null, 2 too small, 3 a null required function
//   BROKEN_NAME: the descriptor's name
// The functions themselves do nothing: the loader must refuse before any call.
#include <pgdog_control/plugin.h>

#ifndef BROKEN_MAGIC
#define BROKEN_MAGIC PGDC_PLUGIN_MAGIC
#endif
#ifndef BROKEN_SIZE
#define BROKEN_SIZE sizeof(pgdc_plugin_descriptor)
#endif
#ifndef BROKEN_ABI_MAJOR
#define BROKEN_ABI_MAJOR PGDC_ABI_MAJOR
#endif
#ifndef BROKEN_ABI_MINOR
#define BROKEN_ABI_MINOR PGDC_ABI_MINOR
#endif
#ifndef BROKEN_VTABLE
#define BROKEN_VTABLE 0
#endif
#ifndef BROKEN_NAME
#define BROKEN_NAME "broken"
#endif

namespace {

int32_t create(const pgdc_host*, pgdc_str, pgdc_instance**, pgdc_errbuf) {
  return PGDC_ERR_INTERNAL;
}
[[maybe_unused]] int32_t start(pgdc_instance*, pgdc_errbuf) { return PGDC_ERR_INTERNAL; }
int32_t stop(pgdc_instance*, int32_t, int64_t, pgdc_errbuf) { return PGDC_ERR_INTERNAL; }
void destroy(pgdc_instance*) {}

#if BROKEN_VTABLE == 2
const pgdc_vtable vtable{8,       &create, &start,  &stop,   &destroy,
                         nullptr, nullptr, nullptr, nullptr, nullptr};
#elif BROKEN_VTABLE == 3
const pgdc_vtable vtable{sizeof(pgdc_vtable),
                         &create,
                         nullptr,
                         &stop,
                         &destroy,
                         nullptr,
                         nullptr,
                         nullptr,
                         nullptr,
                         nullptr};
#else
const pgdc_vtable vtable{sizeof(pgdc_vtable),
                         &create,
                         &start,
                         &stop,
                         &destroy,
                         nullptr,
                         nullptr,
                         nullptr,
                         nullptr,
                         nullptr};
#endif

const pgdc_plugin_descriptor descriptor {
  BROKEN_MAGIC, static_cast<uint32_t>(BROKEN_SIZE), BROKEN_ABI_MAJOR, BROKEN_ABI_MINOR, BROKEN_NAME,
      "1.0.0", "deliberately broken, for the loader tests",
#if BROKEN_VTABLE == 1
      nullptr
};
#else
      &vtable
};
#endif

}  // namespace

extern "C" __attribute__((visibility("default"))) const pgdc_plugin_descriptor*
pgdog_control_plugin_v1(void) {
  return &descriptor;
}
