#include "client/token_source.h"

#include <algorithm>
#include <sstream>

#include "config/small_file.h"
#include "text/text.h"

namespace pgdc::client {

namespace {

bool sendable(const std::string& token) {
  return std::all_of(token.begin(), token.end(),
                     [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

TokenSource resolve_token(const std::string& token_file, const char* env_token) {
  if (token_file.empty()) {
    const std::string token(text::trim(env_token ? env_token : ""));
    if (!sendable(token)) {
      return {std::nullopt, "$PGDOG_CONTROL_TOKEN contains whitespace or control characters"};
    }
    return {token, {}};
  }
  const std::string name = "token file \"" + text::one_line(token_file) + "\"";
  const SmallFile file = read_small_file(token_file, kMaxTokenFileBytes);
  if (!file.text) return {std::nullopt, "cannot read " + name + ": " + file.error};
  std::istringstream lines(*file.text);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string token(text::trim(line));
    if (token.empty() || token.front() == '#') continue;
    if (!sendable(token)) {
      return {std::nullopt, name + ": the token contains whitespace or control characters"};
    }
    return {token, {}};
  }
  return {std::nullopt, name + " holds no token (only empty lines or # comments)"};
}

}  // namespace pgdc::client
