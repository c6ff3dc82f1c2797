#include "client/ctl_options.h"

#include <gtest/gtest.h>

namespace pgdc::client {
namespace {

TEST(CtlOptions, Defaults) {
  const auto r = parse_ctl({"status"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->command, Command::kStatus);
  EXPECT_EQ(r.options->url, "http://127.0.0.1:8080");
  EXPECT_EQ(r.options->token_file, "");
  EXPECT_FALSE(r.options->json);
  EXPECT_EQ(r.options->timeout, std::chrono::seconds(10));
  EXPECT_FALSE(r.options->to);
  EXPECT_FALSE(r.options->help);
}

TEST(CtlOptions, EveryFlagBothSpellings) {
  auto r = parse_ctl(
      {"members", "--url", "http://h:1", "--token-file=/t", "--json", "--timeout", "0.25"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->command, Command::kMembers);
  EXPECT_EQ(r.options->url, "http://h:1");
  EXPECT_EQ(r.options->token_file, "/t");
  EXPECT_TRUE(r.options->json);
  EXPECT_EQ(r.options->timeout, std::chrono::milliseconds(250));

  r = parse_ctl({"switchover", "--to=pod-b", "--url=http://h:2", "--token-file", "/u"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->command, Command::kSwitchover);
  EXPECT_EQ(r.options->to, "pod-b");
  EXPECT_EQ(r.options->url, "http://h:2");
  EXPECT_EQ(r.options->token_file, "/u");

  r = parse_ctl({"switchover"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_FALSE(r.options->to);
}

TEST(CtlOptions, HelpWinsOverEverythingElseParsed) {
  const auto r = parse_ctl({"switchover", "--to", "x", "-h"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_TRUE(r.options->help);
}

struct Bad {
  const char* name;
  std::vector<std::string> args;
  std::string error;
};

void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

class CtlErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(CtlErrors, ExactMessage) {
  const auto r = parse_ctl(GetParam().args);
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, CtlErrors,
    ::testing::Values(
        Bad{"UnknownFlag",
            {"status", "--nope"},
            "unknown argument \"--nope\" for status (see pgdog-control status --help)"},
        Bad{"ToOnlyForSwitchover",
            {"members", "--to", "x"},
            "unknown argument \"--to\" for members (see pgdog-control members --help)"},
        Bad{"Positional",
            {"switchover", "pod-b"},
            "unknown argument \"pod-b\" for switchover (see pgdog-control switchover --help)"},
        Bad{"UrlWithoutValue", {"status", "--url"}, "--url needs a value"},
        Bad{"EmptyTokenFile", {"status", "--token-file="}, "--token-file needs a non-empty path"},
        Bad{"EmptyTo",
            {"switchover", "--to="},
            "--to needs a replica identity (see `pgdog-control members`)"},
        Bad{"TimeoutWord",
            {"status", "--timeout", "soon"},
            "--timeout must be a number of seconds from 0.001 to 3600, not \"soon\""},
        Bad{"TimeoutZero",
            {"status", "--timeout=0"},
            "--timeout must be a number of seconds from 0.001 to 3600, not \"0\""},
        Bad{"TimeoutNegative",
            {"status", "--timeout=-1"},
            "--timeout must be a number of seconds from 0.001 to 3600, not \"-1\""},
        Bad{"TimeoutHuge",
            {"status", "--timeout=1e9"},
            "--timeout must be a number of seconds from 0.001 to 3600, not \"1e9\""},
        Bad{"NoCommand", {"--url"}, "expected a command: status, members or switchover"}),
    [](const ::testing::TestParamInfo<Bad>& p) { return p.param.name; });

TEST(CtlOptions, HelpTextsNameTheirFlagsAndExitStatus) {
  for (Command c : {Command::kStatus, Command::kMembers, Command::kSwitchover}) {
    const std::string h = command_help(c);
    SCOPED_TRACE(std::string(command_name(c)));
    EXPECT_NE(h.find("Usage: pgdog-control " + std::string(command_name(c))), std::string::npos);
    for (const char* s : {"--url", "--token-file", "PGDOG_CONTROL_TOKEN", "--json", "--timeout",
                          "--help", "Exit status", "  4  authentication"}) {
      EXPECT_NE(h.find(s), std::string::npos) << s;
    }
  }
  EXPECT_NE(command_help(Command::kSwitchover).find("--to ID"), std::string::npos);
  const std::string o = commands_overview();
  for (const char* s : {"status", "members", "switchover [--to ID]", "--url", "4 auth"}) {
    EXPECT_NE(o.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace pgdc::client
