// A plugin that references a function nothing defines. Linked without
// -z defs, so the link succeeds; dlopen with RTLD_NOW must then fail.
#include <pgdog_control/plugin.h>

extern "C" int pgdc_broken_missing_function(void);  // defined nowhere

namespace {

int32_t create(const pgdc_host*, pgdc_str, pgdc_instance**, pgdc_errbuf) {
  return pgdc_broken_missing_function();
}
int32_t start(pgdc_instance*, pgdc_errbuf) { return PGDC_OK; }
int32_t stop(pgdc_instance*, int32_t, int64_t, pgdc_errbuf) { return PGDC_OK; }
void destroy(pgdc_instance*) {}

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
const pgdc_plugin_descriptor descriptor{PGDC_PLUGIN_MAGIC,
                                        sizeof(pgdc_plugin_descriptor),
                                        PGDC_ABI_MAJOR,
                                        PGDC_ABI_MINOR,
                                        "unresolved",
                                        "1.0.0",
                                        "references an undefined function",
                                        &vtable};

}  // namespace

extern "C" __attribute__((visibility("default"))) const pgdc_plugin_descriptor*
pgdog_control_plugin_v1(void) {
  return &descriptor;
}
