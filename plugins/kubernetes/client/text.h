// Small text helpers of the Kubernetes plugin, in one place so that each
// rule is written once. Header only; the client is their lowest user, so
// they live here and the rest of the plugin includes "client/text.h".
#pragma once

#include <cctype>
#include <chrono>
#include <string>
#include <string_view>

namespace pgdc::kube {

// `s` without leading and trailing spaces, tabs, CRs and LFs: what a token
// file, a service-account file, an environment variable or a kubeconfig
// scalar may carry around the value. Empty when `s` is only whitespace.
inline std::string trim(std::string_view s) {
  constexpr std::string_view kWhitespace = " \t\r\n";
  const auto begin = s.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(kWhitespace);
  return std::string(s.substr(begin, end - begin + 1));
}

// `s` percent-encoded for a query value (a label selector): RFC 3986
// unreserved characters stay, everything else is %XX.
inline std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A duration for a message, e.g. "5000 ms".
inline std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

}  // namespace pgdc::kube
