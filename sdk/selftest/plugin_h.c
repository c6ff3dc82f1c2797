/* plugin.h on its own, as C11 (see CMakeLists.txt): self-contained, warning
 * free with -pedantic, and its layout pins hold. */
#include <pgdog_control/plugin.h>

/* The header names what a C plugin needs to export its entry point. */
PGDC_VISIBLE const pgdc_plugin_descriptor* pgdc_selftest_entry(void);
const pgdc_plugin_descriptor* pgdc_selftest_entry(void) { return NULL; }

_Static_assert(sizeof(PGDC_ENTRY_SYMBOL) > 1, "PGDC_ENTRY_SYMBOL is a string");
_Static_assert(PGDC_NEVER == INT64_MAX, "PGDC_NEVER is the largest deadline");
