#include "config/config_rules.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdio>

#include "text/text.h"

namespace pgdc::config_rules {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Reads an optional sign; returns true for '-'.
bool take_sign(std::string_view& text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    bool negative = text.front() == '-';
    text.remove_prefix(1);
    return negative;
  }
  return false;
}

// Accumulates digits into value, saturating just above kMaxValue.
void add_digit(std::int64_t& value, char c) {
  value = value * 10 + (c - '0');
  if (value > kMaxValue) value = kMaxValue + 1;
}

std::string char_name(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", u);
    return std::string("'") + buf + "'";
  }
  return std::string("'") + c + "'";
}

// The first character of `name` that `allowed` rejects, as a problem text.
template <typename Allowed>
std::string bad_char_problem(std::string_view name, Allowed allowed) {
  for (char c : name) {
    if (!allowed(c)) return char_name(c) + " is not allowed";
  }
  return {};
}

}  // namespace

Number parse_integer(std::string_view text) {
  bool negative = take_sign(text);
  if (text.empty()) return {};
  std::int64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return {};
    add_digit(value, c);
  }
  if (value > kMaxValue) return {NumberStatus::kRange, negative ? -value : value};
  return {NumberStatus::kOk, negative ? -value : value};
}

Number parse_seconds(std::string_view text) {
  bool negative = take_sign(text);
  std::size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() && fraction.empty()) return {};
  std::int64_t seconds = 0;
  for (char c : whole) {
    if (!is_digit(c)) return {};
    add_digit(seconds, c);
  }
  std::int64_t millis = 0;
  bool too_precise = false;
  for (std::size_t i = 0; i < fraction.size(); ++i) {
    char c = fraction[i];
    if (!is_digit(c)) return {};
    if (i < 3) {
      millis = millis * 10 + (c - '0');
    } else if (c != '0') {
      too_precise = true;
    }
  }
  for (std::size_t i = fraction.size(); i < 3; ++i) millis *= 10;
  std::int64_t total = seconds * 1000 + millis;
  if (negative) total = -total;
  if (seconds > kMaxValue || (seconds == kMaxValue && millis > 0)) {
    return {NumberStatus::kRange, total};
  }
  if (too_precise) return {NumberStatus::kPrecision, total};
  return {NumberStatus::kOk, total};
}

std::optional<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

std::string format_decimal(std::int64_t value, int decimals) {
  bool negative = value < 0;
  std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  std::uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  std::string out = std::to_string(magnitude / scale);
  std::string fraction = std::to_string(magnitude % scale);
  fraction.insert(0, static_cast<std::size_t>(decimals) - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (!fraction.empty()) out += "." + fraction;
  return negative ? "-" + out : out;
}

std::string quote(std::string_view text) {
  constexpr std::size_t kShown = 60;
  std::string out = "\"";
  for (char c : text.substr(0, kShown)) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  if (text.size() > kShown) out += "... (" + std::to_string(text.size()) + " characters)";
  return out;
}

bool is_ip_literal(std::string_view host) {
  const std::string h(host);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

std::string host_name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 253) return quote(name) + " is longer than 253 characters";
  const std::string why = quote(name) +
                          " is not a host name (letters, digits, '-' and '.'; an IPv6 address in "
                          "brackets; no port)";
  std::string_view inner = name;
  if (inner.size() >= 2 && inner.front() == '[' && inner.back() == ']') {
    inner = inner.substr(1, inner.size() - 2);
  }
  if (inner.find(':') != std::string_view::npos) {  // only an IPv6 address has colons
    return is_ip_literal(inner) ? "" : why;
  }
  for (char c : inner) {
    if (!is_digit(c) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && c != '-' &&
        c != '.') {
      return why;
    }
  }
  return "";
}

std::string host_of(std::string_view host_header) {
  std::string_view h = host_header;
  if (!h.empty() && h.front() == '[') {
    const auto close = h.find(']');
    h = close == std::string_view::npos ? h.substr(1) : h.substr(1, close - 1);
  } else if (const auto colon = h.rfind(':');
             colon != std::string_view::npos && h.find(':') == colon) {
    h = h.substr(0, colon);  // one colon: host:port (more: a bare IPv6 address)
  }
  return text::lower(h);
}

std::string dns1123_subdomain_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > 253) return "it is " + std::to_string(name.size()) + " characters long";
  std::string bad =
      bad_char_problem(name, [](char c) { return is_lower_alnum(c) || c == '-' || c == '.'; });
  if (!bad.empty()) return bad;
  if (!is_lower_alnum(name.front())) return "it starts with " + char_name(name.front());
  if (!is_lower_alnum(name.back())) return "it ends with " + char_name(name.back());
  for (std::string_view pair : {"..", ".-", "-."}) {
    if (name.find(pair) != std::string_view::npos) {
      return "it contains \"" + std::string(pair) + "\"";
    }
  }
  return {};
}

std::string dns1123_label_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > 63) return "it is " + std::to_string(name.size()) + " characters long";
  std::string bad = bad_char_problem(name, [](char c) { return is_lower_alnum(c) || c == '-'; });
  if (!bad.empty()) return bad;
  if (!is_lower_alnum(name.front())) return "it starts with " + char_name(name.front());
  if (!is_lower_alnum(name.back())) return "it ends with " + char_name(name.back());
  return {};
}

HostPortResult parse_host_port(std::string_view text, int min_port) {
  const std::string shown = quote(text);
  auto fail = [](std::string problem) { return HostPortResult{std::nullopt, std::move(problem)}; };
  const std::string expected = "; expected host:port, e.g. \"0.0.0.0:8080\" or \"[::1]:8080\"";
  if (text.empty()) return fail("must not be empty" + expected);

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return fail(shown + " has no closing ']'" + expected);
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return fail(shown + " has " + quote(rest) + " after ']'" + expected);
    }
    has_port = rest.size() > 1;
    if (has_port) port = rest.substr(1);
    if (host.empty()) return fail(shown + " has no host" + expected);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      bool all_digits = std::all_of(text.begin(), text.end(), is_digit);
      return fail(shown + (all_digits ? " has no host" : " has no port") + expected);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    has_port = !port.empty();
    if (host.find(':') != std::string_view::npos) {
      return fail(shown + ": an IPv6 address must be in brackets, e.g. \"[::1]:8080\"");
    }
    if (host.empty()) return fail(shown + " has no host" + expected);
  }
  if (!has_port) return fail(shown + " has no port" + expected);

  bool bracketed = text.front() == '[';
  for (char c : host) {
    bool ok = is_lower_alnum(to_lower(c)) || c == '.' || c == '-' || c == '_' ||
              (bracketed && (c == ':' || c == '%'));
    if (!ok) return fail(shown + ": the host " + quote(host) + " contains " + char_name(c));
  }

  Number number = parse_integer(port);
  if (number.status == NumberStatus::kSyntax || port.front() == '-' || port.front() == '+') {
    return fail(shown + ": the port " + quote(port) + " is not a number");
  }
  if (number.status != NumberStatus::kOk || number.value < min_port || number.value > 65535) {
    return fail(shown + ": the port " + std::string(port) + " is out of range (" +
                std::to_string(min_port) + " to 65535)");
  }
  return {HostPort{std::string(host), static_cast<std::uint16_t>(number.value)}, {}};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rolling rows of the classic dynamic programme.
  std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string_view>& candidates) {
  const std::string w = text::lower(word);
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    const std::string c = text::lower(candidate);
    std::size_t distance = edit_distance(w, c);
    std::size_t longer = std::max(w.size(), c.size());
    std::size_t shorter = std::min(w.size(), c.size());
    bool prefix = shorter >= 4 && (w.starts_with(c) || c.starts_with(w));
    bool close = distance <= std::max<std::size_t>(1, longer / 3);
    if ((close || prefix) && (!best || distance < best_distance)) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  return best;
}

std::string token_problem(std::string_view token) {
  if (token.size() < 16) {
    return "a token must be at least 16 characters (this one has " + std::to_string(token.size()) +
           ")";
  }
  if (token.size() > 1024) return "a token must be at most 1024 characters";
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) return "a token must be visible ASCII characters without spaces";
  }
  return {};
}

}  // namespace pgdc::config_rules
