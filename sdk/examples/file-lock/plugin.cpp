// The plugin's entry point: all the glue the C ABI needs.
#include <pgdog_control/plugin.hpp>

#include "file_lock_backend.h"

PGDC_PLUGIN(example_file_lock::FileLockBackend, "example-file-lock", "1.0.0",
            "Example: leadership by flock() on a shared file")
