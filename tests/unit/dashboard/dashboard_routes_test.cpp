// The dashboard routes: content types, ETag/304, cache headers, gzip, 404,
// HEAD and the security headers; on a fake asset table through the router,
// and on this build's embedded table and a real server over sockets.
#include "dashboard/dashboard_routes.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>

#include "http/http_server.h"
#include "http/test_client.h"

namespace pgdc {
namespace {

using dashboard::EmbeddedAsset;

constexpr unsigned char kIndex[] = {'<', 'h', '1', '>', 'h', 'i', '<', '/', 'h', '1', '>'};
constexpr unsigned char kIndexGz[] = {0x1f, 0x8b, 'g', 'z'};  // stands in for gzip bytes
constexpr unsigned char kJs[] = {'c', 'o', 'n', 's', 'o', 'l', 'e'};
constexpr unsigned char kSvg[] = {'<', 's', 'v', 'g', '/', '>'};

constexpr EmbeddedAsset kFake[] = {
    {"/assets/app-1234.js", "text/javascript; charset=utf-8", "\"js1\"", nullptr, kJs, sizeof(kJs),
     nullptr, 0, true},
    {"/favicon.svg", "image/svg+xml", "\"svg1\"", nullptr, kSvg, sizeof(kSvg), nullptr, 0, false},
    {"/index.html", "text/html; charset=utf-8", "\"idx1\"", "\"idx1-gz\"", kIndex, sizeof(kIndex),
     kIndexGz, sizeof(kIndexGz), false},
};

HttpRequest req(std::string method, std::string path,
                std::map<std::string, std::string> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  r.headers = std::move(headers);
  return r;
}

HttpResponse run(const Router& router, HttpRequest r) {
  std::optional<HttpResponse> out;
  router.dispatch(std::move(r), [&](HttpResponse resp) { out = std::move(resp); });
  EXPECT_TRUE(out.has_value());
  return out.value_or(HttpResponse{});
}

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

void expect_security_headers(const HttpResponse& r) {
  const std::string csp = header(r, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
}

class DashboardRoutes : public ::testing::Test {
 protected:
  DashboardRoutes() { add_dashboard_routes(router_, kFake); }
  Router router_;
};

TEST_F(DashboardRoutes, RootServesIndexHtmlForRevalidation) {
  const auto r = run(router_, req("GET", "/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body, "<h1>hi</h1>");
  EXPECT_EQ(header(r, "ETag"), "\"idx1\"");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(header(r, "Content-Encoding"), "");
  expect_security_headers(r);
  EXPECT_EQ(run(router_, req("GET", "/index.html")).body, "<h1>hi</h1>");
}

TEST_F(DashboardRoutes, HashedAssetsAreImmutableWithTheirContentType) {
  const auto js = run(router_, req("GET", "/assets/app-1234.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, "console");
  EXPECT_EQ(header(js, "Cache-Control"), "public, max-age=31536000, immutable");
  expect_security_headers(js);

  const auto svg = run(router_, req("GET", "/favicon.svg"));
  EXPECT_EQ(svg.status, 200);
  EXPECT_EQ(svg.content_type, "image/svg+xml");
  EXPECT_EQ(header(svg, "Cache-Control"), "no-cache");
}

TEST_F(DashboardRoutes, MatchingIfNoneMatchIs304WithoutBody) {
  for (const std::string inm : {"\"idx1\"", "W/\"idx1\"", "\"other\", \"idx1\"", "*"}) {
    const auto r = run(router_, req("GET", "/", {{"if-none-match", inm}}));
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_TRUE(r.body.empty()) << inm;
    EXPECT_EQ(header(r, "ETag"), "\"idx1\"") << inm;
    EXPECT_EQ(header(r, "Cache-Control"), "no-cache") << inm;
  }
  for (const std::string inm : {"\"idx2\"", "idx1", "\"idx1-gz\"", ""}) {
    EXPECT_EQ(run(router_, req("GET", "/", {{"if-none-match", inm}})).status, 200) << inm;
  }
}

TEST_F(DashboardRoutes, GzipWhenAcceptedWithItsOwnETag) {
  for (const std::string ae : {"gzip", "gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "gzip;q=1"}) {
    const auto r = run(router_, req("GET", "/", {{"accept-encoding", ae}}));
    EXPECT_EQ(r.status, 200) << ae;
    EXPECT_EQ(header(r, "Content-Encoding"), "gzip") << ae;
    EXPECT_EQ(r.body, std::string("\x1f\x8bgz")) << ae;
    EXPECT_EQ(header(r, "ETag"), "\"idx1-gz\"") << ae;
  }
  for (const std::string ae : {"identity", "gzip;q=0", "gzip; q=0.000", "deflate, br", "xgzip"}) {
    const auto r = run(router_, req("GET", "/", {{"accept-encoding", ae}}));
    EXPECT_EQ(header(r, "Content-Encoding"), "") << ae;
    EXPECT_EQ(r.body, "<h1>hi</h1>") << ae;
  }
  // The gzip representation revalidates against its own tag.
  const auto r304 = run(
      router_, req("GET", "/", {{"accept-encoding", "gzip"}, {"if-none-match", "\"idx1-gz\""}}));
  EXPECT_EQ(r304.status, 304);
  // A file without a gzip variant is sent as is.
  const auto js = run(router_, req("GET", "/assets/app-1234.js", {{"accept-encoding", "gzip"}}));
  EXPECT_EQ(header(js, "Content-Encoding"), "");
  EXPECT_EQ(js.body, "console");
}

TEST_F(DashboardRoutes, UnknownAssetIs404JsonWithSecurityHeaders) {
  const auto r = run(router_, req("GET", "/assets/app-0000.js"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_NE(body["message"].get<std::string>().find("/assets/app-0000.js"), std::string::npos);
  expect_security_headers(r);
  EXPECT_EQ(run(router_, req("GET", "/assets/")).status, 404);
  // Not a dashboard path at all: the router's own 404.
  EXPECT_EQ(run(router_, req("GET", "/nope.html")).status, 404);
}

TEST_F(DashboardRoutes, HeadIsServedAndWritesAre405) {
  const auto head = run(router_, req("HEAD", "/assets/app-1234.js"));
  EXPECT_EQ(head.status, 200);  // the server sends the headers only
  EXPECT_EQ(header(head, "ETag"), "\"js1\"");
  EXPECT_EQ(run(router_, req("POST", "/")).status, 405);
  EXPECT_EQ(run(router_, req("DELETE", "/assets/app-1234.js")).status, 405);
}

TEST_F(DashboardRoutes, RouteNamesAreBounded) {
  EXPECT_EQ(router_.route_name(req("GET", "/")), "/");
  EXPECT_EQ(router_.route_name(req("GET", "/assets/app-1234.js")), "/assets/");
  EXPECT_EQ(router_.route_name(req("GET", "/assets/whatever-9.js")), "/assets/");
}

TEST(EmbeddedDashboard, IndexReferencesServedScriptAndStyleOnly) {
  Router router;
  add_dashboard_routes(router);
  const auto index = run(router, req("GET", "/"));
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  // No inline script: every <script> has a src (the CSP would block it).
  const std::regex script(R"(<script\b[^>]*>)");
  int scripts = 0;
  for (auto it = std::sregex_iterator(index.body.begin(), index.body.end(), script);
       it != std::sregex_iterator(); ++it) {
    ++scripts;
    EXPECT_NE(it->str().find("src=\"/assets/"), std::string::npos) << it->str();
  }
  EXPECT_EQ(scripts, 1);
  EXPECT_EQ(index.body.find("<style"), std::string::npos);
  EXPECT_EQ(index.body.find("style=\""), std::string::npos);
  // Every /assets/ reference is served with the right type and is immutable.
  const std::regex ref(R"re((?:src|href)="(/assets/[^"]+)")re");
  std::set<std::string> types;
  for (auto it = std::sregex_iterator(index.body.begin(), index.body.end(), ref);
       it != std::sregex_iterator(); ++it) {
    const auto r = run(router, req("GET", (*it)[1]));
    EXPECT_EQ(r.status, 200) << (*it)[1];
    EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_FALSE(r.body.empty());
    types.insert(r.content_type);
  }
  EXPECT_EQ(types,
            (std::set<std::string>{"text/javascript; charset=utf-8", "text/css; charset=utf-8"}));
  EXPECT_EQ(run(router, req("GET", "/favicon.svg")).content_type, "image/svg+xml");
}

TEST(EmbeddedDashboard, TableInvariants) {
  std::set<std::string> paths;
  std::set<std::string> etags;
  for (const EmbeddedAsset& a : dashboard::embedded_assets()) {
    const std::string path = a.path;
    EXPECT_TRUE(paths.insert(path).second) << path;
    EXPECT_EQ(path.front(), '/');
    EXPECT_EQ(a.immutable, path.starts_with("/assets/")) << path;
    EXPECT_GT(a.size, 0u) << path;
    const std::string etag = a.etag;
    EXPECT_TRUE(etag.size() > 2 && etag.front() == '"' && etag.back() == '"') << etag;
    EXPECT_TRUE(etags.insert(etag).second) << path;
    if (a.gzip != nullptr) {
      EXPECT_LT(a.gzip_size, a.size) << path;
      EXPECT_EQ(a.gzip[0], 0x1f);
      EXPECT_EQ(a.gzip[1], 0x8b);
      ASSERT_NE(a.etag_gzip, nullptr);
      EXPECT_NE(std::string(a.etag_gzip), etag);
    } else {
      EXPECT_EQ(a.etag_gzip, nullptr);
    }
  }
  EXPECT_TRUE(paths.count("/index.html"));
}

// Over real sockets: HEAD has no body but the GET's length, 304 has no body,
// and the server keeps the route's Cache-Control (it only defaults to no-store).
TEST(EmbeddedDashboard, RealServerHeadAnd304) {
  Router router;
  add_dashboard_routes(router, kFake);
  HttpConfig config;
  HttpServer server(config, router);
  server.listen("127.0.0.1", 0);
  server.start(1);

  const auto get = test::http_request(server.port(), "GET", "/");
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "<h1>hi</h1>");
  EXPECT_EQ(get->header("cache-control"), "no-cache");
  EXPECT_EQ(get->header("x-frame-options"), "DENY");

  test::TestConnection head(server.port());
  ASSERT_TRUE(head.send("HEAD /assets/app-1234.js HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto h = head.read_response(std::chrono::seconds(5), /*head=*/true);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("content-length"), std::to_string(sizeof(kJs)));
  EXPECT_EQ(h->header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_TRUE(h->body.empty());

  const auto not_modified =
      test::http_request(server.port(), "GET", "/", "", "If-None-Match: \"idx1\"\r\n");
  ASSERT_TRUE(not_modified.has_value());
  EXPECT_EQ(not_modified->status, 304);
  EXPECT_TRUE(not_modified->body.empty());
  EXPECT_EQ(not_modified->header("etag"), "\"idx1\"");

  const auto gz = test::http_request(server.port(), "GET", "/", "", "Accept-Encoding: gzip\r\n");
  ASSERT_TRUE(gz.has_value());
  EXPECT_EQ(gz->header("content-encoding"), "gzip");
  EXPECT_EQ(gz->body, std::string("\x1f\x8bgz"));
  server.stop();
}

}  // namespace
}  // namespace pgdc
