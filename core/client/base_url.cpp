#include "client/base_url.h"

#include <algorithm>
#include <cctype>

#include "text/text.h"

namespace pgdc::client {

namespace {

BaseUrlResult bad(const std::string& text, const std::string& why) {
  return BaseUrlResult{std::nullopt, "--url \"" + text::one_line(text) + "\": " + why};
}

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

}  // namespace

std::string BaseUrl::authority() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == "80" ? h : h + ":" + port;
}

std::string BaseUrl::str() const { return "http://" + authority() + prefix; }

BaseUrlResult parse_base_url(const std::string& text) {
  const std::string lower = text::lower(text);
  if (lower.rfind("https://", 0) == 0) {
    return bad(text,
               "https is not supported: the daemon serves plain http; reach it directly, "
               "through `kubectl port-forward`, or through a TLS proxy's http side");
  }
  if (lower.rfind("http://", 0) != 0) {
    return bad(text, "must start with http://, e.g. http://127.0.0.1:8080");
  }
  std::string rest = text.substr(7);
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  if (prefix.find_first_of("?#") != std::string::npos) {
    return bad(text, "must not carry a query or fragment");
  }
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (authority.find('@') != std::string::npos) {
    return bad(text, "must not carry credentials; use --token-file or PGDOG_CONTROL_TOKEN");
  }
  BaseUrl url;
  url.prefix = prefix;
  url.port = "80";
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return bad(text, "unclosed '[' in the IPv6 address");
    url.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(text, "expected ':port' after the IPv6 address");
      url.port = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) url.port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return bad(text, "names no host");
  if (url.host.find_first_of(" \t\r\n") != std::string::npos) {
    return bad(text, "the host contains whitespace");
  }
  if (!all_digits(url.port) || url.port.size() > 5 || std::stoi(url.port) < 1 ||
      std::stoi(url.port) > 65535) {
    return bad(text, "the port must be a number from 1 to 65535");
  }
  url.port = std::to_string(std::stoi(url.port));  // "08080" -> "8080"
  return BaseUrlResult{url, {}};
}

}  // namespace pgdc::client
