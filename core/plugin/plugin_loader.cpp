#include "plugin/plugin_loader.h"

#include <dlfcn.h>

#include <deque>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <utility>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <pgdog_control/host.hpp>

#include "text/text.h"

namespace pgdc {
namespace {

namespace fs = std::filesystem;

// Every library this process opened, intentionally leaked: never unloaded
// (see the header). Guarded by registry_mutex(); loads are serialized too.
std::deque<boost::dll::shared_library>& registry() {
  static auto* libraries = new std::deque<boost::dll::shared_library>();
  return *libraries;
}

std::mutex& registry_mutex() {
  static auto* mutex = new std::mutex();
  return *mutex;
}

std::string quoted(const std::string& path) { return "plugin \"" + path + "\""; }

// dlerror() right after Boost.DLL's failed dlopen still holds the loader's
// reason (Boost replaces it by a generic error code). If something cleared
// it, open the file again ourselves to get it: a failed dlopen keeps nothing.
std::string load_error_text(const std::string& path) {
  if (const char* reason = dlerror(); reason != nullptr) return text::one_line(reason);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = dlerror();
    return reason != nullptr ? text::one_line(reason) : "dlopen failed without a reason";
  }
  dlclose(handle);
  return "dlopen failed, then succeeded on a second attempt (was the file replaced?)";
}

std::string load_failure(const std::string& path, const std::string& reason) {
  const std::string who = quoted(path);
  if (reason.find("undefined symbol") != std::string::npos) {
    return who + ": unresolved symbol (" + reason +
           "); rebuild it with -Wl,-z,defs to find the missing library";
  }
  if (reason.find("cannot open shared object file") != std::string::npos) {
    if (reason.rfind(path + ":", 0) == 0) {
      return who + ": cannot open it (" + reason + "); check the file's permissions";
    }
    return who + ": a library it needs cannot be loaded (" + reason +
           "); install it, or check `ldd " + path + "`";
  }
  return who + ": not a shared object (" + reason +
         "); leader.backend must name a pgdog-control plugin";
}

}  // namespace

std::string default_plugin_dir() {
  boost::dll::fs::error_code ec;
  const boost::dll::fs::path exe = boost::dll::program_location(ec);
  fs::path dir = ec ? fs::current_path() : fs::path(exe.string()).parent_path();
  return (dir / ".." / PGDC_PLUGIN_SUBDIR).lexically_normal().string();
}

std::string resolve_plugin_path(const std::string& backend, const std::string& plugin_dir) {
  const bool is_path = backend.find('/') != std::string::npos ||
                       (backend.size() >= 3 && backend.compare(backend.size() - 3, 3, ".so") == 0);
  fs::path path;
  if (is_path) {
    path = backend;
  } else {
    path = fs::path(plugin_dir.empty() ? default_plugin_dir() : plugin_dir) / (backend + ".so");
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  return (ec ? path : absolute).lexically_normal().string();
}

LoadResult load_plugin(const std::string& requested_path) {
  LoadResult result;
  std::error_code ec;
  fs::path absolute = fs::absolute(requested_path, ec);
  const std::string path = (ec ? fs::path(requested_path) : absolute).lexically_normal().string();
  const std::string who = quoted(path);

  // 1. The file: a clear message before the dynamic loader says anything.
  const fs::file_status status = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    result.error = who + ": cannot access it (" + ec.message() +
                   "); check the permissions of the file and its directories";
    return result;
  }
  if (!fs::exists(status)) {
    result.error =
        who + ": file not found; check leader.backend and plugin_dir (looked for " + path + ")";
    return result;
  }
  if (fs::is_directory(status)) {
    result.error = who +
                   ": is a directory, not a shared object; leader.backend must name a "
                   "pgdog-control plugin file";
    return result;
  }

  std::lock_guard<std::mutex> lock(registry_mutex());

  // 2. Load: every symbol bound now, nothing leaked into the global scope.
  boost::dll::shared_library library;
  boost::dll::fs::error_code load_ec;
  dlerror();  // clear a stale message
  library.load(boost::dll::fs::path(path),
               boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, load_ec);
  if (load_ec || !library.is_loaded()) {
    result.error = load_failure(path, load_error_text(path));
    return result;
  }
  // From here on the library stays loaded, whatever the outcome.
  registry().push_back(std::move(library));
  const boost::dll::shared_library& loaded = registry().back();

  // 3. The entry point.
  if (!loaded.has(PGDC_ENTRY_SYMBOL)) {
    result.error =
        who + ": no entry symbol " PGDC_ENTRY_SYMBOL ", so it is not a pgdog-control plugin (ABI " +
        std::to_string(PGDC_ABI_MAJOR) + ")";
    return result;
  }
  const pgdc_plugin_descriptor* descriptor = nullptr;
  try {
    descriptor = loaded.get<const pgdc_plugin_descriptor*()>(PGDC_ENTRY_SYMBOL)();
  } catch (...) {
    result.error = who + ": the entry point " PGDC_ENTRY_SYMBOL
                         " threw an exception; the plugin is broken, rebuild it against the SDK";
    return result;
  }

  // 4. The descriptor and its function table.
  std::string problem = sdk::host::check_descriptor(descriptor, who);
  if (!problem.empty()) {
    result.error = std::move(problem);
    return result;
  }
  result.plugin = LoadedPlugin{path, descriptor};
  return result;
}

}  // namespace pgdc
