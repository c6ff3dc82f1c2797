// The text rules behind config validation, one function at a time.
#include "config/config_rules.h"

#include <string>

#include <gtest/gtest.h>

namespace pgdc::config_rules {
namespace {

void expect_number(Number n, NumberStatus status, std::int64_t value) {
  EXPECT_EQ(n.status, status);
  if (status == NumberStatus::kOk) {
    EXPECT_EQ(n.value, value);
  }
}

TEST(ParseInteger, AcceptsDecimalIntegersOnly) {
  expect_number(parse_integer("15"), NumberStatus::kOk, 15);
  expect_number(parse_integer("-3"), NumberStatus::kOk, -3);
  expect_number(parse_integer("+7"), NumberStatus::kOk, 7);
  expect_number(parse_integer("007"), NumberStatus::kOk, 7);
  expect_number(parse_integer("2147483647"), NumberStatus::kOk, 2147483647);
  for (const char* bad : {"", "-", "1.5", "1.0", "0x10", "1_000", "1e3", " 1", "1 ", "abc"}) {
    EXPECT_EQ(parse_integer(bad).status, NumberStatus::kSyntax) << bad;
  }
  EXPECT_EQ(parse_integer("2147483648").status, NumberStatus::kRange);
  EXPECT_EQ(parse_integer("99999999999999999999999").status, NumberStatus::kRange);
  EXPECT_LT(parse_integer("-99999999999999999999999").value, 0);
}

TEST(ParseSeconds, ConvertsToWholeMilliseconds) {
  expect_number(parse_seconds("5"), NumberStatus::kOk, 5000);
  expect_number(parse_seconds("0.5"), NumberStatus::kOk, 500);
  expect_number(parse_seconds(".25"), NumberStatus::kOk, 250);
  expect_number(parse_seconds("1."), NumberStatus::kOk, 1000);
  expect_number(parse_seconds("0.001"), NumberStatus::kOk, 1);
  expect_number(parse_seconds("2.5000"), NumberStatus::kOk, 2500);  // trailing zeros are fine
  expect_number(parse_seconds("-1.5"), NumberStatus::kOk, -1500);
  expect_number(parse_seconds("0"), NumberStatus::kOk, 0);
  for (const char* bad : {"", ".", "-", "1e3", "inf", ".inf", ".nan", "1.2.3", "5s", "0x1"}) {
    EXPECT_EQ(parse_seconds(bad).status, NumberStatus::kSyntax) << bad;
  }
  EXPECT_EQ(parse_seconds("0.0001").status, NumberStatus::kPrecision);
  EXPECT_EQ(parse_seconds("1.0005").status, NumberStatus::kPrecision);
  expect_number(parse_seconds("2147483647"), NumberStatus::kOk, 2147483647000);
  EXPECT_EQ(parse_seconds("2147483647.001").status, NumberStatus::kRange);
  EXPECT_EQ(parse_seconds("99999999999999999999").status, NumberStatus::kRange);
}

TEST(ParseBool, OnlyCoreSchemaWords) {
  for (const char* t : {"true", "True", "TRUE"}) EXPECT_EQ(parse_bool(t), true) << t;
  for (const char* f : {"false", "False", "FALSE"}) EXPECT_EQ(parse_bool(f), false) << f;
  for (const char* no : {"yes", "no", "on", "off", "y", "n", "1", "0", "tRUE", ""}) {
    EXPECT_EQ(parse_bool(no), std::nullopt) << no;
  }
}

TEST(FormatDecimal, DropsTrailingZeros) {
  EXPECT_EQ(format_decimal(5000, 3), "5");
  EXPECT_EQ(format_decimal(500, 3), "0.5");
  EXPECT_EQ(format_decimal(1250, 3), "1.25");
  EXPECT_EQ(format_decimal(60000, 4), "6");
  EXPECT_EQ(format_decimal(132000, 4), "13.2");
  EXPECT_EQ(format_decimal(12, 4), "0.0012");
  EXPECT_EQ(format_decimal(-1500, 3), "-1.5");
  EXPECT_EQ(format_decimal(0, 3), "0");
  EXPECT_EQ(format_seconds(10000), "10");
}

TEST(Quote, EscapesAndShortens) {
  EXPECT_EQ(quote("abc"), "\"abc\"");
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quote("a\nb\tc\x01"), R"("a\nb\tc\x01")");
  EXPECT_EQ(quote(std::string(61, 'x')), "\"" + std::string(60, 'x') + "\"... (61 characters)");
  EXPECT_EQ(quote(std::string(60, 'x')), "\"" + std::string(60, 'x') + "\"");
}

TEST(Dns1123Subdomain, FollowsKubernetesObjectNames) {
  for (const char* ok : {"a", "pgdog-control", "pgdog-control.prod", "0abc", "a.b-c.d9", "a-b-c"}) {
    EXPECT_EQ(dns1123_subdomain_problem(ok), "") << ok;
  }
  EXPECT_EQ(dns1123_subdomain_problem(std::string(253, 'a')), "");
  EXPECT_EQ(dns1123_subdomain_problem(std::string(254, 'a')), "it is 254 characters long");
  EXPECT_EQ(dns1123_subdomain_problem(""), "it is empty");
  EXPECT_EQ(dns1123_subdomain_problem("Pgdog"), "'P' is not allowed");
  EXPECT_EQ(dns1123_subdomain_problem("pg_dog"), "'_' is not allowed");
  EXPECT_EQ(dns1123_subdomain_problem("pg dog"), "' ' is not allowed");
  EXPECT_EQ(dns1123_subdomain_problem("pg\x01"), "'\\x01' is not allowed");
  EXPECT_EQ(dns1123_subdomain_problem("-pgdog"), "it starts with '-'");
  EXPECT_EQ(dns1123_subdomain_problem(".pgdog"), "it starts with '.'");
  EXPECT_EQ(dns1123_subdomain_problem("pgdog-"), "it ends with '-'");
  EXPECT_EQ(dns1123_subdomain_problem("a..b"), "it contains \"..\"");
  EXPECT_EQ(dns1123_subdomain_problem("a.-b"), "it contains \".-\"");
  EXPECT_EQ(dns1123_subdomain_problem("a-.b"), "it contains \"-.\"");
}

TEST(Dns1123Label, FollowsKubernetesNamespaces) {
  for (const char* ok : {"a", "default", "kube-system", "ns1", "1ns"}) {
    EXPECT_EQ(dns1123_label_problem(ok), "") << ok;
  }
  EXPECT_EQ(dns1123_label_problem(std::string(63, 'a')), "");
  EXPECT_EQ(dns1123_label_problem(std::string(64, 'a')), "it is 64 characters long");
  EXPECT_EQ(dns1123_label_problem("my.ns"), "'.' is not allowed");
  EXPECT_EQ(dns1123_label_problem("Prod"), "'P' is not allowed");
  EXPECT_EQ(dns1123_label_problem("-ns"), "it starts with '-'");
  EXPECT_EQ(dns1123_label_problem("ns-"), "it ends with '-'");
}

TEST(ParseHostPort, AcceptsHostPortForms) {
  struct Good {
    const char* text;
    const char* host;
    int port;
  };
  for (const Good& g : {Good{"0.0.0.0:8080", "0.0.0.0", 8080}, Good{"127.0.0.1:0", "127.0.0.1", 0},
                        Good{"[::1]:8080", "::1", 8080}, Good{"[::]:1", "::", 1},
                        Good{"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
                        Good{"Pod-0.svc_x:65535", "Pod-0.svc_x", 65535}}) {
    HostPortResult r = parse_host_port(g.text, 0);
    ASSERT_TRUE(r.value.has_value()) << g.text << ": " << r.problem;
    EXPECT_EQ(r.value->host, g.host);
    EXPECT_EQ(r.value->port, g.port);
  }
}

TEST(ParseHostPort, ExplainsWhatIsWrong) {
  const std::string hint = "; expected host:port, e.g. \"0.0.0.0:8080\" or \"[::1]:8080\"";
  auto problem = [](const char* text, int min_port) {
    return parse_host_port(text, min_port).problem;
  };
  EXPECT_EQ(problem("", 0), "must not be empty" + hint);
  EXPECT_EQ(problem("host", 0), "\"host\" has no port" + hint);
  EXPECT_EQ(problem("8080", 0), "\"8080\" has no host" + hint);
  EXPECT_EQ(problem("[::1]", 0), "\"[::1]\" has no port" + hint);
  EXPECT_EQ(problem("[::1]:", 0), "\"[::1]:\" has no port" + hint);
  EXPECT_EQ(problem("[]:80", 0), "\"[]:80\" has no host" + hint);
  EXPECT_EQ(problem("[::1]80", 0), "\"[::1]80\" has \"80\" after ']'" + hint);
  EXPECT_EQ(problem("h:-1", 0), "\"h:-1\": the port \"-1\" is not a number");
  EXPECT_EQ(problem("h:+1", 0), "\"h:+1\": the port \"+1\" is not a number");
  EXPECT_EQ(problem("h:65536", 0), "\"h:65536\": the port 65536 is out of range (0 to 65535)");
  EXPECT_EQ(problem("h:0", 1), "\"h:0\": the port 0 is out of range (1 to 65535)");
  EXPECT_EQ(problem("h/x:80", 0), "\"h/x:80\": the host \"h/x\" contains '/'");
}

TEST(EditDistance, CountsEditsAndTranspositions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("abc", "abc"), 0u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("ab", "ba"), 1u);
  EXPECT_EQ(edit_distance("levle", "level"), 1u);
  EXPECT_EQ(edit_distance("lease_duratin_secs", "lease_duration_secs"), 1u);
}

TEST(ClosestMatch, SuggestsOnlyLikelyTypos) {
  const std::vector<std::string_view> top = {"listen", "plugin_dir", "advertise_address",
                                             "leader", "http",       "log"};
  EXPECT_EQ(closest_match("listn", top), "listen");
  EXPECT_EQ(closest_match("LISTEN", top), "listen");
  EXPECT_EQ(closest_match("plugins_dir", top), "plugin_dir");
  EXPECT_EQ(closest_match("leadr", top), "leader");
  EXPECT_EQ(closest_match("foo", top), std::nullopt);
  EXPECT_EQ(closest_match("lvl", top), std::nullopt);
  EXPECT_EQ(closest_match("metrics", top), std::nullopt);
  // Prefixes of at least four characters count, whatever the distance.
  EXPECT_EQ(closest_match("lease_duration", {"lease_name", "lease_duration_secs"}),
            "lease_duration_secs");
  EXPECT_EQ(closest_match("warning", {"debug", "info", "warn", "error"}), "warn");
  // The first candidate wins a tie.
  EXPECT_EQ(closest_match("ab", {"ax", "xb"}), "ax");
}

}  // namespace
}  // namespace pgdc::config_rules
