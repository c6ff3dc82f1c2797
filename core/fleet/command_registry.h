// The kinds of command a deployment can be sent: an open set, each with a
// description (shown by the dashboard) and a validator for its arguments.
//
// with_builtins() holds reload_configuration, reload_schema, maintenance_on
// and maintenance_off. More kinds are added with add() before the API starts.
// Thread-safety: add() before use; the rest is const and safe from any thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgdc::fleet {

struct CommandKind {
  std::string name;
  std::string description;
  // Empty when args (always a JSON object) are valid, else why not, naming
  // the field, e.g. "args.reason must be a string of at most 256 characters".
  std::function<std::string(const nlohmann::json& args)> validate;
};

class CommandRegistry {
 public:
  static CommandRegistry with_builtins();

  // Replaces a kind of the same name.
  void add(CommandKind kind);
  const CommandKind* find(const std::string& name) const;
  std::vector<const CommandKind*> kinds() const;  // by name

 private:
  std::map<std::string, CommandKind> kinds_;
};

}  // namespace pgdc::fleet
