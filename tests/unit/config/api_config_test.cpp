// The api: section of config.yaml (ApiConfig): defaults, every key, and the
// exact problems reported for bad values (never echoing a token).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace pgdc {
namespace {

using std::chrono::milliseconds;
using Errors = std::vector<std::pair<std::string, std::string>>;

Errors errors_of(const std::string& yaml) {
  Errors out;
  for (const ConfigError& e : parse_config(yaml, "t.yaml").errors)
    out.emplace_back(e.key, e.message);
  return out;
}

Config parse_ok(const std::string& yaml) {
  ConfigResult r = parse_config(yaml, "t.yaml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.str();
  return r.config.value_or(Config{});
}

TEST(ApiConfig, DefaultsWithoutTheSection) {
  const ApiConfig a = parse_ok("listen: \"127.0.0.1:1\"\n").api;
  EXPECT_TRUE(a.deployments.empty());
  EXPECT_EQ(a.web_read_access, WebReadAccess::kToken) << "fleet reads need a token by default";
  EXPECT_EQ(a.retention, milliseconds(300000));
  EXPECT_EQ(a.stale_after, milliseconds(5000));
  EXPECT_EQ(a.evict_after, milliseconds(60000));
  EXPECT_EQ(a.max_wait, milliseconds(30000));
  EXPECT_EQ(a.default_wait, milliseconds(25000));
  EXPECT_FALSE(a.forward_to_leader);
  EXPECT_TRUE(default_config().api.deployments.empty());
}

TEST(ApiConfig, EveryKey) {
  const ApiConfig a = parse_ok(R"(
api:
  deployments:
    - name: prod
      tokens: ["prod-token-0123456789", "prod-token-second-01"]
    - name: staging_2
      token_file: /etc/pgdog-control/staging.tokens
  web:
    read_access: token
    admin_tokens: ["admin-token-0123456789"]
    admin_token_file: /a
    read_tokens: ["read-token-0123456789"]
    read_token_file: /r
  telemetry:
    retention_secs: 600
    max_nodes_per_deployment: 50
    max_entries_per_upload: 10
    max_upload_bytes: 2048
    max_string_bytes: 100
  liveness:
    stale_after_secs: 2.5
    evict_after_secs: 30
  commands:
    history: 10
    max_wait_secs: 20
    default_wait_secs: 15
  forward_to_leader: true
)")
                          .api;
  ASSERT_EQ(a.deployments.size(), 2u);
  EXPECT_EQ(a.deployments[0].name, "prod");
  EXPECT_EQ(a.deployments[0].tokens.size(), 2u);
  EXPECT_EQ(a.deployments[1].token_file, "/etc/pgdog-control/staging.tokens");
  EXPECT_EQ(a.web_read_access, WebReadAccess::kToken);
  EXPECT_EQ(a.web_admin_tokens, std::vector<std::string>{"admin-token-0123456789"});
  EXPECT_EQ(a.web_admin_token_file, "/a");
  EXPECT_EQ(a.web_read_token_file, "/r");
  EXPECT_EQ(a.retention, milliseconds(600000));
  EXPECT_EQ(a.max_nodes_per_deployment, 50u);
  EXPECT_EQ(a.max_entries_per_upload, 10u);
  EXPECT_EQ(a.max_upload_bytes, 2048u);
  EXPECT_EQ(a.max_string_bytes, 100u);
  EXPECT_EQ(a.stale_after, milliseconds(2500));
  EXPECT_EQ(a.evict_after, milliseconds(30000));
  EXPECT_EQ(a.command_history, 10u);
  EXPECT_EQ(a.max_wait, milliseconds(20000));
  EXPECT_EQ(a.default_wait, milliseconds(15000));
  EXPECT_TRUE(a.forward_to_leader);
}

TEST(ApiConfig, BadValuesAreReportedWithKeyAndRuleButNoToken) {
  const Errors e = errors_of(R"(
api:
  deployments:
    - name: prod
      tokens: ["short-secret"]
    - name: "bad name"
      tokens: ["ok-token-0123456789"]
    - name: prod
      tokens: ["ok-token-0123456789"]
    - tokens: ["another-token-0123456789"]
    - name: empty
  web:
    read_access: closed
  telemetry:
    retention_secs: 0
  liveness:
    stale_after_secs: 10
    evict_after_secs: 5
  commands:
    max_wait_secs: 10
    default_wait_secs: 20
  forward: true
)");
  EXPECT_THAT(
      e,
      ::testing::ElementsAre(
          std::make_pair(std::string("api.deployments[0].tokens[0]"),
                         std::string("a token must be at least 16 characters (this one has 12)")),
          std::make_pair(std::string("api.deployments[1].name"),
                         std::string("\"bad name\" may contain only letters, digits, '.', '_' and "
                                     "'-'")),
          std::make_pair(std::string("api.deployments[2].name"),
                         std::string("duplicate deployment name \"prod\"")),
          std::make_pair(std::string("api.deployments[2].tokens[0]"),
                         std::string("the same token is already given at "
                                     "api.deployments[1].tokens[0] (a token identifies exactly "
                                     "one deployment or web role)")),
          std::make_pair(std::string("api.deployments[3]"),
                         std::string("a deployment needs a name")),
          std::make_pair(std::string("api.deployments[4]"),
                         std::string("deployment \"empty\" needs tokens or a token_file")),
          std::make_pair(std::string("api.web.read_access"),
                         std::string("\"closed\" is not one of open, token")),
          std::make_pair(std::string("api.telemetry.retention_secs"),
                         std::string("0 must be between 1 and 86400")),
          std::make_pair(std::string("api.liveness.evict_after_secs"),
                         std::string("5 must be greater than api.liveness.stale_after_secs (10)")),
          std::make_pair(std::string("api.commands.default_wait_secs"),
                         std::string("20 must not exceed api.commands.max_wait_secs (10)")),
          std::make_pair(std::string("api.forward"),
                         std::string("unknown key \"forward\"; did you mean "
                                     "\"forward_to_leader\"?"))));
  for (const auto& [key, message] : e) {
    EXPECT_EQ(message.find("short-secret"), std::string::npos);
    EXPECT_EQ(message.find("ok-token-0123456789"), std::string::npos);
  }
}

TEST(ApiConfig, WrongShapes) {
  EXPECT_THAT(errors_of("api: [1]\n"),
              ::testing::ElementsAre(std::make_pair(
                  std::string("api"), std::string("expected a map, got a sequence"))));
  EXPECT_THAT(errors_of("api:\n  deployments: {a: 1}\n"),
              ::testing::ElementsAre(
                  std::make_pair(std::string("api.deployments"),
                                 std::string("expected a sequence of deployments, got a map"))));
  EXPECT_THAT(errors_of("api:\n  web:\n    admin_tokens: admin-token-0123456789\n"),
              ::testing::ElementsAre(std::make_pair(
                  std::string("api.web.admin_tokens"),
                  std::string("expected a sequence of tokens, got \"admin-token-0123456789\""))));
}

TEST(ApiConfig, AllowedHostsAreHostNamesWithoutPorts) {
  const ApiConfig a =
      parse_ok("api:\n  web:\n    allowed_hosts: [Control.Example.com, \"[::1]\", 10.0.0.7]\n").api;
  EXPECT_EQ(a.web_allowed_hosts,
            (std::vector<std::string>{"control.example.com", "::1", "10.0.0.7"}));
  EXPECT_THAT(
      errors_of("api:\n  web:\n    allowed_hosts: [\"evil.com:80\", \"\", [a]]\n"),
      ::testing::ElementsAre(
          std::make_pair(std::string("api.web.allowed_hosts[0]"),
                         std::string("\"evil.com:80\" is not a host name (letters, "
                                     "digits, '-' and '.'; an IPv6 address in brackets; "
                                     "no port)")),
          std::make_pair(std::string("api.web.allowed_hosts[1]"), std::string("must not be empty")),
          std::make_pair(std::string("api.web.allowed_hosts[2]"),
                         std::string("expected a host name, got a sequence"))));
}

TEST(ApiConfig, OpenReadsBeyondLoopbackAreAWarning) {
  const auto warnings = [](const std::string& yaml) {
    Errors out;
    for (const ConfigError& e : parse_config(yaml, "t.yaml").warnings)
      out.emplace_back(e.key, e.message);
    return out;
  };
  const std::string open = "api:\n  web:\n    read_access: open\n";
  EXPECT_THAT(warnings("listen: \"0.0.0.0:8080\"\n" + open),
              ::testing::ElementsAre(std::make_pair(
                  std::string("api.web.read_access"),
                  std::string("`open` while listening on \"0.0.0.0\": anyone who can reach the "
                              "port reads fleet data, including query text; use `token` (the "
                              "default) unless the network is trusted"))));
  EXPECT_THAT(warnings(open), ::testing::SizeIs(1)) << "the default listen is 0.0.0.0";
  EXPECT_THAT(warnings("listen: \"127.0.0.1:8080\"\n" + open), ::testing::IsEmpty());
  EXPECT_THAT(warnings("listen: \"localhost:8080\"\n" + open), ::testing::IsEmpty());
  EXPECT_THAT(warnings("listen: \"0.0.0.0:8080\"\n"), ::testing::IsEmpty());
}

TEST(ApiConfig, TheNamesThisReplicaIsReachedUnderAreAllowed) {
  Config c = parse_ok(
      "listen: \"control.local:8080\"\n"
      "advertise_address: \"Pod-1.Example:8080\"\n"
      "api:\n  web:\n    allowed_hosts: [control.local]\n");
  resolve_environment_defaults(c);
  EXPECT_EQ(c.api.web_allowed_hosts, (std::vector<std::string>{"control.local", "pod-1.example"}));
  Config ips = parse_ok("listen: \"0.0.0.0:8080\"\nadvertise_address: \"10.0.0.7:8080\"\n");
  resolve_environment_defaults(ips);
  EXPECT_TRUE(ips.api.web_allowed_hosts.empty()) << "IP addresses are always allowed";
}

TEST(ApiConfig, MemoryBudgets) {
  const ApiConfig d = parse_ok("listen: \"127.0.0.1:1\"\n").api;
  EXPECT_EQ(d.memory_max_bytes, 64u << 20);
  EXPECT_EQ(d.memory_max_bytes_per_deployment, 32u << 20);
  // The per-deployment default follows a smaller total down.
  const ApiConfig small = parse_ok("api:\n  memory:\n    max_bytes: 16777216\n").api;
  EXPECT_EQ(small.memory_max_bytes_per_deployment, 16u << 20);
  EXPECT_THAT(errors_of("api:\n  memory:\n    max_bytes: 16777216\n"
                        "    max_bytes_per_deployment: 33554432\n"),
              ::testing::ElementsAre(std::make_pair(
                  std::string("api.memory.max_bytes_per_deployment"),
                  std::string("33554432 must not exceed api.memory.max_bytes (16777216)"))));
  EXPECT_THAT(errors_of("api:\n  memory:\n    max_bytes: 1000\n"),
              ::testing::ElementsAre(
                  std::make_pair(std::string("api.memory.max_bytes"),
                                 std::string("1000 must be between 1048576 and 68719476736"))));
}

}  // namespace
}  // namespace pgdc
