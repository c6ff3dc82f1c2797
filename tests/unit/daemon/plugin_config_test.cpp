#include "daemon/plugin_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace pgdc {
namespace {

TEST(PluginConfig, CarriesEveryLeaderSettingInMilliseconds) {
  Config c = default_config();
  c.leader.identity = "pod-1_abcd";
  c.leader.lease_name = "pgdog-control";
  c.leader.lease_namespace = "pgdog";
  c.leader.lease_duration = std::chrono::milliseconds(15000);
  c.leader.renew_deadline = std::chrono::milliseconds(10000);
  c.leader.lease_interval = std::chrono::milliseconds(2500);
  c.leader.release_timeout = std::chrono::milliseconds(0);
  c.leader.options_json = R"({"kubeconfig":"/k","label_pods":true})";
  c.advertise_address = "10.1.2.3:8080";
  const auto j = nlohmann::json::parse(plugin_config_json(c));
  EXPECT_EQ(j["identity"], "pod-1_abcd");
  EXPECT_EQ(j["lease_name"], "pgdog-control");
  EXPECT_EQ(j["namespace"], "pgdog");
  EXPECT_EQ(j["lease_duration_ms"], 15000);
  EXPECT_EQ(j["renew_deadline_ms"], 10000);
  EXPECT_EQ(j["lease_interval_ms"], 2500);
  EXPECT_EQ(j["release_timeout_ms"], 0);
  EXPECT_EQ(j["advertise_address"], "10.1.2.3:8080");
  EXPECT_EQ(j["options"]["kubeconfig"], "/k");
  EXPECT_EQ(j["options"]["label_pods"], true);
}

TEST(PluginConfig, OptionsAreAlwaysAnObject) {
  Config c = default_config();
  c.leader.options_json = "";
  EXPECT_TRUE(nlohmann::json::parse(plugin_config_json(c))["options"].is_object());
}

}  // namespace
}  // namespace pgdc
