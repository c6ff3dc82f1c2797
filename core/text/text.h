// Small text helpers the whole core shares, so each rule has one home. ASCII
// only, locale-independent (std::tolower and friends depend on the C locale).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgdc::text {

// Whitespace for trim(): spaces, tabs and line ends.
inline constexpr std::string_view kWhitespace = " \t\r\n\f\v";
// HTTP's optional whitespace (RFC 9110 5.6.3): only spaces and tabs.
inline constexpr std::string_view kHttpWhitespace = " \t";

// s without leading and trailing characters of `chars`.
std::string_view trim(std::string_view s, std::string_view chars = kWhitespace);

// s with A-Z mapped to a-z; every other byte unchanged.
std::string lower(std::string_view s);
// Equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b);

// s made safe for one line of a log or an error message: "\n" -> "\\n",
// "\r" -> "\\r", other control bytes (but tab) and DEL -> "\\xNN". Other
// bytes, UTF-8 included, are kept.
std::string one_line(std::string_view s);

// `digits` random lowercase hex digits from std::random_device (unique
// suffixes, not secrets).
std::string random_hex(std::size_t digits);

}  // namespace pgdc::text
