// A plugin written against the raw C ABI whose create() lets a C++ exception
// escape across the boundary (a bug the SDK macro prevents). The host must
// turn it into an error, not terminate.
#include <pgdog_control/plugin.h>

#include <stdexcept>

namespace {

int32_t create(const pgdc_host*, pgdc_str, pgdc_instance**, pgdc_errbuf) {
  throw std::runtime_error("broken: create() threw across the C ABI");
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
                                        "create-throws",
                                        "1.0.0",
                                        "create() throws a C++ exception",
                                        &vtable};

}  // namespace

extern "C" __attribute__((visibility("default"))) const pgdc_plugin_descriptor*
pgdog_control_plugin_v1(void) {
  return &descriptor;
}
