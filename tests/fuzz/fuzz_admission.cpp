// Admission (http/router.h with api/api_auth.h): any request head in, and the
// router either refuses it with a well-formed 401/403/404/405 or lets it
// through only with the token the route needs. This is what runs before a
// body is read, for clients that have no token.
//
// Input: a request line "METHOD TARGET", then "name: value" lines, as the
// server hands them over (names lower-cased, repeats joined with ", ").
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

#include "api/api_auth.h"
#include "fuzz_common.h"
#include "http/router.h"
#include "text/text.h"

namespace {

using namespace pgdc;

constexpr const char* kDeploymentToken = "prod-token-0123456789";
constexpr const char* kAdminToken = "admin-token-0123456789";
constexpr const char* kReadToken = "read-token-0123456789";

struct Setup {
  api::ApiAuth auth{tokens(), WebReadAccess::kToken};
  Router router;

  static fleet::TokenAuth tokens() {
    fleet::TokenAuth t;
    t.add(fleet::TokenRole::kDeployment, "prod", kDeploymentToken);
    t.add(fleet::TokenRole::kWebAdmin, "", kAdminToken);
    t.add(fleet::TokenRole::kWebRead, "", kReadToken);
    return t;
  }

  Setup() {
    const Handler never = [](HttpRequest&&, Respond) { std::abort(); };
    using Need = api::ApiAuth::Need;
    router.add("POST", "/api/v2/metrics", "/api/v2/metrics", never,
               auth.admission(Need::kDeployment, 1024));
    router.add("GET", "/api/v2/commands", "/api/v2/commands", never,
               auth.admission(Need::kDeployment, std::nullopt));
    router.add_prefix("GET", "/api/web/", "/api/web/*", never,
                      auth.admission(Need::kWebRead, std::nullopt));
    router.add_prefix("POST", "/api/web/", "/api/web/*", never,
                      auth.admission(Need::kWebAdmin, 1024));
  }
};

// The bearer token exactly as ApiAuth reads it (scheme case-insensitive,
// spaces around the token ignored), or "".
std::string bearer(const HttpRequest& head) {
  auto it = head.headers.find("authorization");
  if (it == head.headers.end() || it->second.size() < 7) return "";
  if (!text::iequals(std::string_view(it->second).substr(0, 7), "bearer ")) return "";
  return std::string(text::trim(std::string_view(it->second).substr(7), " "));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Setup setup;
  std::istringstream in{std::string(fuzz::input(data, size))};
  HttpRequest head;
  std::string line;
  if (!std::getline(in, line)) return 0;
  const auto space = line.find(' ');
  head.method = line.substr(0, space);
  head.target = space == std::string::npos ? "" : line.substr(space + 1);
  const auto q = head.target.find('?');
  head.path = head.target.substr(0, q);
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto [it, inserted] = head.headers.emplace(text::lower(line.substr(0, colon)),
                                               std::string(text::trim(line.substr(colon + 1))));
    if (!inserted) it->second += ", " + std::string(text::trim(line.substr(colon + 1)));
  }

  const Admitted a = setup.router.admit(head);
  if (a.refusal) {
    const int s = a.refusal->status;
    fuzz::require(s == 401 || s == 403 || s == 404 || s == 405);
    fuzz::require(!a.refusal->body.empty());
    return 0;
  }
  // Let through: only with the token the route needs.
  const std::string token = bearer(head);
  const bool machine = head.path.rfind("/api/v2/", 0) == 0;
  const bool read = head.method == "GET" || head.method == "HEAD";
  if (machine) {
    fuzz::require(token == kDeploymentToken);
  } else if (read) {
    fuzz::require(token == kReadToken || token == kAdminToken);
  } else {
    fuzz::require(token == kAdminToken);
  }
  fuzz::require(a.max_body_bytes.has_value());
  return 0;
}
