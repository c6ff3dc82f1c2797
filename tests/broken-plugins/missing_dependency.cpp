// A plugin that needs a shared library the dynamic loader cannot find: it
// links against pgdc_broken_dep, whose SONAME (libpgdc-absent.so.1) names a
// file that does not exist.
#include <pgdog_control/plugin.h>

extern "C" int pgdc_broken_dep_function(void);  // in absent_dependency.cpp

namespace {

int32_t create(const pgdc_host*, pgdc_str, pgdc_instance**, pgdc_errbuf) {
  return pgdc_broken_dep_function();
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
                                        "missing-dependency",
                                        "1.0.0",
                                        "needs a library that is not installed",
                                        &vtable};

}  // namespace

extern "C" __attribute__((visibility("default"))) const pgdc_plugin_descriptor*
pgdog_control_plugin_v1(void) {
  return &descriptor;
}
