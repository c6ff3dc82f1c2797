// The loader: each rejection with its exact one-line message, the noop plugin,
// path resolution, and "never unloaded".
#include "plugin/plugin_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pgdog_control/host.hpp>

namespace pgdc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string broken(const std::string& file) {
  return std::string(PGDC_TEST_BROKEN_PLUGIN_DIR) + "/" + file;
}
std::string noop_path() { return std::string(PGDC_TEST_PLUGIN_DIR) + "/noop.so"; }

// Loads a plugin that must be refused; returns the message.
std::string refusal(const std::string& path) {
  const LoadResult r = load_plugin(path);
  EXPECT_FALSE(r.plugin.has_value()) << path;
  EXPECT_EQ(r.error.find('\n'), std::string::npos) << "not one line: " << r.error;
  return r.error;
}

bool still_loaded(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

const std::string kMin = std::to_string(sdk::host::kDescriptorMinSize);

TEST(PluginLoader, LoadsNoop) {
  const LoadResult r = load_plugin(noop_path());
  ASSERT_TRUE(r.plugin.has_value()) << r.error;
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.plugin->path, std::filesystem::path(noop_path()).lexically_normal().string());
  ASSERT_NE(r.plugin->descriptor, nullptr);
  EXPECT_STREQ(r.plugin->descriptor->name, "noop");
  EXPECT_EQ(r.plugin->descriptor->abi_major, PGDC_ABI_MAJOR);
}

TEST(PluginLoader, LoadingTwiceGivesTheSameDescriptor) {
  const LoadResult a = load_plugin(noop_path());
  const LoadResult b = load_plugin(noop_path());
  ASSERT_TRUE(a.plugin && b.plugin);
  EXPECT_EQ(a.plugin->descriptor, b.plugin->descriptor);
}

TEST(PluginLoader, LibrariesAreNeverUnloaded) {
  {
    const LoadResult r = load_plugin(noop_path());
    ASSERT_TRUE(r.plugin) << r.error;
  }
  EXPECT_TRUE(still_loaded(noop_path()));
  // Refused after dlopen succeeded: still kept (its entry point ran).
  refusal(broken("bad-magic.so"));
  EXPECT_TRUE(still_loaded(broken("bad-magic.so")));
}

TEST(PluginLoader, RelativePathIsMadeAbsolute) {
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(PGDC_TEST_PLUGIN_DIR);
  const LoadResult r = load_plugin("noop.so");
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(r.plugin) << r.error;
  EXPECT_EQ(r.plugin->path, std::filesystem::path(noop_path()).lexically_normal().string());
}

TEST(PluginLoader, FileNotFound) {
  const std::string path = broken("kubernetes.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\": file not found; check leader.backend and plugin_dir "
                               "(looked for " +
                               path + ")");
}

TEST(PluginLoader, Directory) {
  const std::string path = PGDC_TEST_BROKEN_PLUGIN_DIR;
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\": is a directory, not a shared object; leader.backend must "
                               "name a pgdog-control plugin file");
}

TEST(PluginLoader, NotASharedObject) {
  const std::string path = broken("text-file.so");
  const std::string e = refusal(path);
  EXPECT_THAT(e, StartsWith("plugin \"" + path + "\": not a shared object (" + path + ": "));
  EXPECT_THAT(e, HasSubstr("); leader.backend must name a pgdog-control plugin"));
}

TEST(PluginLoader, NoEntrySymbol) {
  const std::string path = broken("no-entry.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\": no entry symbol pgdog_control_plugin_v1, so it is not a "
                               "pgdog-control plugin (ABI 1)");
}

TEST(PluginLoader, BadMagic) {
  const std::string path = broken("bad-magic.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\": bad magic 0x12345678; expected 0x43444750: not a "
                               "pgdog-control plugin descriptor");
}

TEST(PluginLoader, DescriptorTooSmall) {
  const std::string path = broken("small-descriptor.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path + "\" (broken 1.0.0): descriptor size " +
                               std::to_string(offsetof(pgdc_plugin_descriptor, description)) +
                               " is smaller than the ABI 1.0 minimum " + kMin +
                               "; rebuild it against the SDK");
}

TEST(PluginLoader, AbiMajorMismatch) {
  const std::string path = broken("abi-major.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path + "\" (broken 1.0.0): ABI 2." +
                               std::to_string(PGDC_ABI_MINOR) + ", host accepts 1.0 to 1." +
                               std::to_string(PGDC_ABI_MINOR) +
                               "; rebuild the plugin against an SDK with plugin ABI 1");
}

TEST(PluginLoader, AbiMinorNewerThanHost) {
  const std::string path = broken("abi-minor.so");
  const std::string host_minor = std::to_string(PGDC_ABI_MINOR);
  EXPECT_EQ(refusal(path),
            "plugin \"" + path + "\" (broken 1.0.0): ABI 1." + std::to_string(PGDC_ABI_MINOR + 1) +
                ", host accepts 1.0 to 1." + host_minor +
                "; upgrade pgdog-control, or rebuild the plugin against an SDK with plugin ABI 1." +
                host_minor);
}

TEST(PluginLoader, BadName) {
  const std::string path = broken("bad-name.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\" (Bad Name 1.0.0): descriptor name \"Bad Name\" is not "
                               "[a-z0-9-]+ (at most 64 characters); the plugin is broken, "
                               "rebuild it against the SDK");
}

TEST(PluginLoader, NullFunctionTable) {
  const std::string path = broken("null-vtable.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\" (broken 1.0.0): descriptor has no function table (vtable is "
                               "null); the plugin is broken, rebuild it against the SDK");
}

TEST(PluginLoader, FunctionTableTooSmall) {
  const std::string path = broken("small-vtable.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\" (broken 1.0.0): function table size 8 is smaller than the "
                               "ABI 1.0 minimum " +
                               std::to_string(sdk::host::kVtableMinSize) +
                               "; rebuild it against the SDK");
}

TEST(PluginLoader, NullRequiredFunction) {
  const std::string path = broken("null-function.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\" (broken 1.0.0): required function start is null in the "
                               "function table; the plugin is broken, rebuild it against the SDK");
}

TEST(PluginLoader, UnresolvedSymbol) {
  const std::string path = broken("unresolved-symbol.so");
  const std::string e = refusal(path);
  EXPECT_THAT(e, StartsWith("plugin \"" + path + "\": unresolved symbol ("));
  EXPECT_THAT(e, HasSubstr("undefined symbol: pgdc_broken_missing_function"));
  EXPECT_THAT(e, HasSubstr("); rebuild it with -Wl,-z,defs to find the missing library"));
}

TEST(PluginLoader, MissingDependency) {
  const std::string path = broken("missing-dependency.so");
  EXPECT_EQ(refusal(path), "plugin \"" + path +
                               "\": a library it needs cannot be loaded (libpgdc-absent.so.1: "
                               "cannot open shared object file: No such file or directory); "
                               "install it, or check `ldd " +
                               path + "`");
}

TEST(PluginLoader, WellFormedButFailingPluginsLoad) {
  for (const char* file : {"create-fails.so", "create-throws.so", "start-fails.so"}) {
    const LoadResult r = load_plugin(broken(file));
    EXPECT_TRUE(r.plugin.has_value()) << r.error;
  }
}

TEST(ResolvePluginPath, NameIsLookedUpInPluginDir) {
  EXPECT_EQ(resolve_plugin_path("kubernetes", "/opt/pgdc/plugins"),
            "/opt/pgdc/plugins/kubernetes.so");
  EXPECT_EQ(resolve_plugin_path("noop", "/opt/pgdc/plugins/"), "/opt/pgdc/plugins/noop.so");
}

TEST(ResolvePluginPath, RelativePluginDirIsMadeAbsolute) {
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(resolve_plugin_path("noop", "plugins"), cwd + "/plugins/noop.so");
}

TEST(ResolvePluginPath, SlashOrSoSuffixMeansAPath) {
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(resolve_plugin_path("/x/kubernetes.so", "/ignored"), "/x/kubernetes.so");
  EXPECT_EQ(resolve_plugin_path("./my.so", "/ignored"), cwd + "/my.so");
  EXPECT_EQ(resolve_plugin_path("my.so", "/ignored"), cwd + "/my.so");
  EXPECT_EQ(resolve_plugin_path("lib/x", "/ignored"), cwd + "/lib/x");
  EXPECT_EQ(resolve_plugin_path("/a/../b/c.so", "/ignored"), "/b/c.so");
}

TEST(ResolvePluginPath, EmptyPluginDirUsesTheDefault) {
  EXPECT_EQ(resolve_plugin_path("noop", ""), default_plugin_dir() + "/noop.so");
  EXPECT_THAT(default_plugin_dir(), HasSubstr("pgdog-control/plugins"));
  EXPECT_TRUE(std::filesystem::path(default_plugin_dir()).is_absolute());
}

}  // namespace
}  // namespace pgdc
