// Loads coordination plugins: shared objects that export the C ABI entry point
// of sdk/include/pgdog_control/plugin.h.
//
// A loaded library is never unloaded: its descriptor, function table and any
// thread it starts live in its code, so the process keeps every library it
// opened (even one it then rejected) until exit. Loading is Boost.DLL with
// RTLD_NOW | RTLD_LOCAL and an absolute path, so an unresolved symbol is a
// load error here instead of a crash at its first call.
//
// Every rejection is one line naming the file, what was found and what to do.
//
// Thread-safety: all functions are safe to call from any thread.
#pragma once

#include <optional>
#include <string>

#include <pgdog_control/plugin.h>

namespace pgdc {

struct LoadedPlugin {
  std::string path;  // absolute
  // Validated (magic, ABI, sizes, name, version, function table). Static
  // storage in a library that stays loaded for the process lifetime.
  const pgdc_plugin_descriptor* descriptor = nullptr;
};

struct LoadResult {
  std::optional<LoadedPlugin> plugin;  // set on success
  std::string error;                   // one line, set on failure
};

// <directory of this executable>/../<PGDC_PLUGIN_SUBDIR>, normalized: where
// the daemon looks when the config's plugin_dir is empty.
std::string default_plugin_dir();

// leader.backend -> an absolute path. A backend containing '/' or ending in
// ".so" is a path (relative to the working directory); any other value is a
// name: <plugin_dir>/<backend>.so, with default_plugin_dir() when plugin_dir
// is empty.
std::string resolve_plugin_path(const std::string& backend, const std::string& plugin_dir);

// Loads and validates the plugin at `path` (made absolute). Loading the same
// file again returns the same descriptor.
LoadResult load_plugin(const std::string& path);

}  // namespace pgdc
