#include "dashboard/dashboard_routes.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "http/json_errors.h"
#include "text/text.h"

namespace pgdc {

namespace {

using dashboard::EmbeddedAsset;

// 'self' only: the Vite build has no inline script or style and no data:
// URIs; uPlot styles elements through the CSSOM, which CSP does not block.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";
constexpr const char* kImmutable = "public, max-age=31536000, immutable";
constexpr const char* kRevalidate = "no-cache";
constexpr std::string_view kAssetsPrefix = "/assets/";

using AssetMap = std::map<std::string, const EmbeddedAsset*, std::less<>>;

void add_security_headers(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
}

std::string_view trim(std::string_view s) { return text::trim(s, text::kHttpWhitespace); }

// Calls f(item) for each comma-separated item, trimmed, until f returns true.
template <typename F>
bool any_item(std::string_view list, F f) {
  while (true) {
    const auto comma = list.find(',');
    if (f(trim(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

// If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ is ignored.
bool etag_matches(const HttpRequest& request, std::string_view etag) {
  const auto it = request.headers.find("if-none-match");
  if (it == request.headers.end()) return false;
  return any_item(it->second, [etag](std::string_view tag) {
    if (tag == "*") return true;
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    return tag == etag;
  });
}

// "gzip" listed in Accept-Encoding without q=0 (a missing header means
// identity only, to keep curl and tests simple).
bool accepts_gzip(const HttpRequest& request) {
  const auto it = request.headers.find("accept-encoding");
  if (it == request.headers.end()) return false;
  return any_item(it->second, [](std::string_view item) {
    const auto semi = item.find(';');
    if (!text::iequals(trim(item.substr(0, semi)), "gzip")) return false;
    if (semi == std::string_view::npos) return true;
    std::string_view param = trim(item.substr(semi + 1));
    if (param.substr(0, 2) != "q=" && param.substr(0, 2) != "Q=") return true;
    param.remove_prefix(2);
    // q=0, q=0.0, q=0.00, q=0.000 refuse; anything else accepts.
    return param.find_first_not_of("0.") != std::string_view::npos;
  });
}

HttpResponse serve(const EmbeddedAsset& asset, const HttpRequest& request) {
  const bool gzip = asset.gzip != nullptr && accepts_gzip(request);
  const char* etag = gzip ? asset.etag_gzip : asset.etag;
  HttpResponse r;
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", asset.immutable ? kImmutable : kRevalidate);
  r.headers.emplace_back("Vary", "Accept-Encoding");
  add_security_headers(r);
  if (etag_matches(request, etag)) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  r.content_type = asset.content_type;
  if (gzip) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body = std::string(asset.gzip_bytes());
  } else {
    r.body = std::string(asset.bytes());
  }
  return r;
}

HttpResponse not_found(const std::string& path) {
  HttpResponse r = json_error(
      404, "not_found",
      "no dashboard asset " + path + " (asset names change with every build: reload the page)");
  add_security_headers(r);
  return r;
}

}  // namespace

void add_dashboard_routes(Router& router, std::span<const EmbeddedAsset> assets) {
  auto by_path = std::make_shared<AssetMap>();
  for (const EmbeddedAsset& a : assets) (*by_path)[a.path] = &a;

  for (const auto& [path, asset] : *by_path) {
    if (std::string_view(path).starts_with(kAssetsPrefix)) continue;  // the prefix route below
    const EmbeddedAsset* file = asset;
    router.add("GET", path, path,
               [file](HttpRequest&& request, Respond respond) { respond(serve(*file, request)); });
    if (path == "/index.html") {
      router.add("GET", "/", "/", [file](HttpRequest&& request, Respond respond) {
        respond(serve(*file, request));
      });
    }
  }

  router.add_prefix("GET", std::string(kAssetsPrefix), "/assets/",
                    [by_path](HttpRequest&& request, Respond respond) {
                      const auto it = by_path->find(request.path);
                      if (it == by_path->end()) {
                        respond(not_found(request.path));
                      } else {
                        respond(serve(*it->second, request));
                      }
                    });
}

void add_dashboard_routes(Router& router) {
  add_dashboard_routes(router, dashboard::embedded_assets());
}

}  // namespace pgdc
