#include "fleet/command_registry.h"

#include <gtest/gtest.h>

namespace pgdc::fleet {
namespace {

using Json = nlohmann::json;

TEST(CommandRegistry, BuiltinsAndArgsValidation) {
  const CommandRegistry r = CommandRegistry::with_builtins();
  std::vector<std::string> names;
  for (const auto* k : r.kinds()) {
    names.push_back(k->name);
    EXPECT_FALSE(k->description.empty()) << k->name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"maintenance_off", "maintenance_on",
                                             "reload_configuration", "reload_schema"}));
  EXPECT_EQ(r.find("nope"), nullptr);
  EXPECT_EQ(r.find("reload_schema")->validate(Json::object()), "");
  EXPECT_NE(r.find("reload_schema")->validate(Json{{"x", 1}}).find("no arguments"),
            std::string::npos);
  EXPECT_EQ(r.find("maintenance_on")->validate(Json{{"reason", "deploy"}}), "");
  EXPECT_NE(r.find("maintenance_on")->validate(Json{{"reason", 5}}), "");
  EXPECT_NE(r.find("maintenance_on")->validate(Json{{"why", "x"}}).find("unknown argument"),
            std::string::npos);
}

TEST(CommandRegistry, OpenSet) {
  CommandRegistry r = CommandRegistry::with_builtins();
  r.add({"resharding_cutover", "Switch to the new shards.", nullptr});
  ASSERT_NE(r.find("resharding_cutover"), nullptr);
  EXPECT_EQ(r.kinds().size(), 5u);
}

}  // namespace
}  // namespace pgdc::fleet
