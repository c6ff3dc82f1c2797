#include "client/base_url.h"

#include <gtest/gtest.h>

namespace pgdc::client {
namespace {

TEST(BaseUrl, HostPortAndPrefix) {
  auto r = parse_base_url("http://127.0.0.1:8080");
  ASSERT_TRUE(r.url) << r.error;
  EXPECT_EQ(r.url->host, "127.0.0.1");
  EXPECT_EQ(r.url->port, "8080");
  EXPECT_EQ(r.url->prefix, "");
  EXPECT_EQ(r.url->authority(), "127.0.0.1:8080");
  EXPECT_EQ(r.url->str(), "http://127.0.0.1:8080");

  r = parse_base_url("HTTP://control.example/pgdc/");
  ASSERT_TRUE(r.url) << r.error;
  EXPECT_EQ(r.url->host, "control.example");
  EXPECT_EQ(r.url->port, "80");
  EXPECT_EQ(r.url->prefix, "/pgdc");
  EXPECT_EQ(r.url->authority(), "control.example");
}

TEST(BaseUrl, Ipv6) {
  auto r = parse_base_url("http://[::1]:9000/");
  ASSERT_TRUE(r.url) << r.error;
  EXPECT_EQ(r.url->host, "::1");
  EXPECT_EQ(r.url->port, "9000");
  EXPECT_EQ(r.url->authority(), "[::1]:9000");
}

struct Bad {
  const char* url;
  const char* error;
};

class BaseUrlErrors : public ::testing::TestWithParam<Bad> {};

TEST_P(BaseUrlErrors, ExactMessage) {
  const auto r = parse_base_url(GetParam().url);
  EXPECT_FALSE(r.url);
  EXPECT_EQ(r.error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BaseUrlErrors,
    ::testing::Values(
        Bad{"https://x:8443",
            "--url \"https://x:8443\": https is not supported: the daemon serves plain http; "
            "reach it directly, through `kubectl port-forward`, or through a TLS proxy's http "
            "side"},
        Bad{"127.0.0.1:8080",
            "--url \"127.0.0.1:8080\": must start with http://, e.g. http://127.0.0.1:8080"},
        Bad{"http://:8080", "--url \"http://:8080\": names no host"},
        Bad{"http://h:0", "--url \"http://h:0\": the port must be a number from 1 to 65535"},
        Bad{"http://h:99999",
            "--url \"http://h:99999\": the port must be a number from 1 to 65535"},
        Bad{"http://h:x", "--url \"http://h:x\": the port must be a number from 1 to 65535"},
        Bad{"http://u:p@h:1",
            "--url \"http://u:p@h:1\": must not carry credentials; use --token-file or "
            "PGDOG_CONTROL_TOKEN"},
        Bad{"http://h/?a=1", "--url \"http://h/?a=1\": must not carry a query or fragment"},
        Bad{"http://[::1", "--url \"http://[::1\": unclosed '[' in the IPv6 address"}));

}  // namespace
}  // namespace pgdc::client
