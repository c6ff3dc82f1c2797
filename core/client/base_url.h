// The control plane's address as the operator CLI takes it (--url):
// "http://host[:port][/prefix]". Only plain HTTP: the daemon itself serves
// plain HTTP (TLS, where wanted, is terminated in front of it), and a client
// that silently downgraded an https:// URL would send the token in clear.
#pragma once

#include <optional>
#include <string>

namespace pgdc::client {

struct BaseUrl {
  std::string host;    // name or IP literal (IPv6 without brackets)
  std::string port;    // decimal, 1..65535; "80" when the URL names none
  std::string prefix;  // path before /api/... without a trailing '/'; may be empty

  // The Host header value: host[:port] as the URL spelled it (v6 in brackets).
  std::string authority() const;
  // "http://" + authority() + prefix: for messages.
  std::string str() const;
};

struct BaseUrlResult {
  std::optional<BaseUrl> url;
  std::string error;  // set when url is empty: what is wrong, quoting the input
};

BaseUrlResult parse_base_url(const std::string& text);

}  // namespace pgdc::client
