#include "daemon/cli.h"

#include <gtest/gtest.h>

namespace pgdc {
namespace {

TEST(Cli, DefaultsToTheEnvironmentConfigPath) {
  auto r = parse_cli({}, "/etc/pgdc.yaml");
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->config_path, "/etc/pgdc.yaml");
  EXPECT_FALSE(r.options->check);
}

TEST(Cli, FlagOverridesTheEnvironment) {
  auto r = parse_cli({"--config", "/a.yaml", "--check"}, "/env.yaml");
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->config_path, "/a.yaml");
  EXPECT_TRUE(r.options->check);
  r = parse_cli({"--config=/b.yaml"}, "");
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->config_path, "/b.yaml");
}

TEST(Cli, LogOverrides) {
  auto r = parse_cli({"--log-level", "debug", "--log-format=json"}, "");
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->log_level, LogLevel::kDebug);
  EXPECT_EQ(r.options->log_format, LogFormat::kJson);
}

struct BadArgs {
  std::string name;
  std::vector<std::string> args;
  std::string error;
};

void PrintTo(const BadArgs& b, std::ostream* os) { *os << b.name; }

class CliErrors : public ::testing::TestWithParam<BadArgs> {};

TEST_P(CliErrors, ExactMessage) {
  const auto r = parse_cli(GetParam().args, "");
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, CliErrors,
    ::testing::Values(
        BadArgs{"UnknownFlag", {"--nope"}, "unknown argument \"--nope\" (see --help)"},
        BadArgs{"ConfigWithoutValue", {"--config"}, "--config needs a value"},
        BadArgs{"ConfigEmpty", {"--config="}, "--config needs a non-empty path"},
        BadArgs{"BadLogLevel",
                {"--log-level", "loud"},
                "--log-level must be debug, info, warn or error, not \"loud\""},
        BadArgs{"BadLogFormat",
                {"--log-format", "xml"},
                "--log-format must be text or json, not \"xml\""},
        BadArgs{
            "PositionalArgument", {"config.yaml"}, "unknown argument \"config.yaml\" (see --help)"},
        // main() dispatches a command only in first place (client/ctl.h).
        BadArgs{"CommandAfterDaemonFlags",
                {"--log-level", "debug", "members"},
                "\"members\" is a command: put it first (pgdog-control members --help)"}),
    [](const ::testing::TestParamInfo<BadArgs>& p) { return p.param.name; });

TEST(Cli, HelpMentionsEveryFlagAndExitStatus) {
  const std::string u = usage_text();
  for (const char* flag : {"--config", "--check", "--version", "--help", "--log-level",
                           "--log-format", "PGDOG_CONTROL_CONFIG", "Exit status",
                           "pgdog-control status | members | switchover [--to ID]",
                           "pgdog-control switchover [--to ID]", "--token-file"}) {
    EXPECT_NE(u.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace pgdc
