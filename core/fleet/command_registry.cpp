#include "fleet/command_registry.h"

namespace pgdc::fleet {
namespace {

// args must be {} (no arguments).
std::string no_args(const nlohmann::json& args) {
  if (args.empty()) return {};
  return "args: this command takes no arguments, got \"" + args.begin().key() + "\"";
}

// args may hold "reason": a string of at most 256 bytes; nothing else.
std::string optional_reason(const nlohmann::json& args) {
  for (auto it = args.begin(); it != args.end(); ++it) {
    if (it.key() != "reason") {
      return "args: unknown argument \"" + it.key() + "\" (only \"reason\" is accepted)";
    }
    if (!it->is_string() || it->get_ref<const std::string&>().size() > 256) {
      return "args.reason must be a string of at most 256 bytes";
    }
  }
  return {};
}

}  // namespace

CommandRegistry CommandRegistry::with_builtins() {
  CommandRegistry r;
  r.add({"reload_configuration", "Reload pgdog.toml and users.toml from disk (RELOAD).", no_args});
  r.add(
      {"reload_schema", "Reload the database schema used for sharding, e.g. after DDL.", no_args});
  r.add({"maintenance_on",
         "Enter maintenance mode: pause new queries (optional args.reason, a string).",
         optional_reason});
  r.add({"maintenance_off", "Leave maintenance mode and resume queries.", no_args});
  return r;
}

void CommandRegistry::add(CommandKind kind) {
  std::string name = kind.name;
  kinds_[name] = std::move(kind);
}

const CommandKind* CommandRegistry::find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<const CommandKind*> CommandRegistry::kinds() const {
  std::vector<const CommandKind*> out;
  for (const auto& [name, kind] : kinds_) out.push_back(&kind);
  return out;
}

}  // namespace pgdc::fleet
