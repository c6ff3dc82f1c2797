// Text rules behind config validation: number and boolean syntax, DNS-1123
// names, host:port, tokens, and "did you mean" suggestions.
//
// Used by the config area and, for the token rule, by the fleet's token
// files. Pure functions on strings: no YAML, no I/O, no global state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgdc::config_rules {

// Largest value accepted for any count or time: Kubernetes'
// leaseDurationSeconds is an int32, and no other key needs more.
inline constexpr std::int64_t kMaxValue = 2147483647;

enum class NumberStatus {
  kOk,
  kSyntax,     // not a number of the expected form
  kRange,      // magnitude above kMaxValue
  kPrecision,  // finer than a millisecond (seconds only)
};

struct Number {
  NumberStatus status = NumberStatus::kSyntax;
  std::int64_t value = 0;  // the integer, or milliseconds for parse_seconds
};

// Decimal integer: optional sign, then digits ("15", "-3", "+7"). No
// fractions, exponents, hex or digit separators.
Number parse_integer(std::string_view text);

// Decimal seconds ("5", "0.5", ".25", "-1"), to whole milliseconds: at most
// three decimal places that are not zero. No exponents, no inf or nan.
Number parse_seconds(std::string_view text);

// YAML 1.2 core-schema booleans only: true, True, TRUE, false, False, FALSE.
// YAML 1.1 words (yes, no, on, off, y, n) are not booleans.
std::optional<bool> parse_bool(std::string_view text);

// value / 10^decimals without trailing zeros: (5000, 3) -> "5",
// (500, 3) -> "0.5", (60000, 4) -> "6", (12, 4) -> "0.0012".
std::string format_decimal(std::int64_t value, int decimals);
inline std::string format_seconds(std::int64_t millis) { return format_decimal(millis, 3); }

// The text in double quotes for messages, control characters and quotes
// escaped; more than 60 characters are cut: "abc..."... (300 characters).
std::string quote(std::string_view text);

// Empty when `name` is a DNS-1123 subdomain (Kubernetes object names:
// lowercase alphanumerics, '-' and '.', each dot-separated part starting and
// ending with an alphanumeric, at most 253 characters); otherwise why not.
std::string dns1123_subdomain_problem(std::string_view name);

// Empty when `name` is a DNS-1123 label (namespaces: lowercase alphanumerics
// and '-', starting and ending with an alphanumeric, at most 63 characters);
// otherwise why not.
std::string dns1123_label_problem(std::string_view name);

struct HostPort {
  std::string host;  // without the brackets of an IPv6 address
  std::uint16_t port = 0;
};

struct HostPortResult {
  std::optional<HostPort> value;
  std::string problem;  // set when value is empty; includes the quoted text
};

// "host:port", "[ipv6]:port". min_port is 0 where 0 means any free port
// (listen) and 1 where a real port is needed (advertise_address).
HostPortResult parse_host_port(std::string_view text, int min_port);

// Empty when `name` is a host as a Host header names it, without a port: a
// DNS name (letters, digits, '-', '.', at most 253 characters) or an IP
// address (IPv6 in brackets or not); otherwise why not.
std::string host_name_problem(std::string_view name);

// The host of a Host header value, lower-case, without the port (and
// without the brackets of an IPv6 address): "Example.com:8080" ->
// "example.com", "[::1]:80" -> "::1".
std::string host_of(std::string_view host_header);

// Whether `host` (as host_of returns it) is an IPv4 or IPv6 address.
bool is_ip_literal(std::string_view host);

// Empty when `token` is acceptable as an API token: 16 to 1024 visible ASCII
// characters, no spaces. The message never includes the token.
std::string token_problem(std::string_view token);

// Optimal string alignment distance: insertions, deletions, substitutions
// and transpositions of adjacent characters each cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely
// typo: distance (ignoring case) at most max(1, longer length / 3), or one is
// a prefix of the other and the shorter has at least 4 characters. The first
// candidate wins a tie.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string_view>& candidates);

}  // namespace pgdc::config_rules
