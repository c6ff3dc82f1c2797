// Opens a built plugin for tests, the way the host does: dlopen with
// RTLD_NOW | RTLD_LOCAL (so an unresolved symbol fails here), look up the
// ABI entry point, call it. The library is never closed.
#ifndef PGDOG_CONTROL_TESTING_LOAD_HPP
#define PGDOG_CONTROL_TESTING_LOAD_HPP

#include <pgdog_control/plugin.h>

#include <dlfcn.h>

#include <cstring>
#include <string>

namespace pgdc::sdk::testing {

// Returns the plugin's descriptor, or null with *error set.
inline const pgdc_plugin_descriptor* load_descriptor(const std::string& path, std::string* error) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* text = dlerror();
    if (error != nullptr) *error = "dlopen " + path + ": " + (text ? text : "unknown error");
    return nullptr;
  }
  void* symbol = dlsym(handle, PGDC_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    if (error != nullptr) *error = path + ": no symbol " PGDC_ENTRY_SYMBOL;
    return nullptr;
  }
  pgdc_entry_fn entry = nullptr;
  static_assert(sizeof(entry) == sizeof(symbol), "function and data pointers differ in size");
  std::memcpy(&entry, &symbol, sizeof(entry));
  const pgdc_plugin_descriptor* descriptor = entry();
  if (descriptor == nullptr && error != nullptr) *error = path + ": the entry point returned null";
  return descriptor;
}

}  // namespace pgdc::sdk::testing

#endif  // PGDOG_CONTROL_TESTING_LOAD_HPP
