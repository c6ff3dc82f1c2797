#include "state/state_key.h"

namespace pgdc::state {
namespace {

bool allowed(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// The key as printed in a message: never more than the 63 characters a valid
// key could have, and no control bytes, so a bad key cannot flood a log line.
std::string shown(std::string_view key) {
  std::string out = "\"";
  for (char c : key.substr(0, kMaxKeyLength)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F || c == '"' || c == '\\') ? '?' : c;
  }
  if (key.size() > kMaxKeyLength) out += "...";
  return out + "\"";
}

}  // namespace

std::string key_problem(std::string_view key) {
  if (key.empty()) return "state key must not be empty";
  if (key.size() > kMaxKeyLength) {
    return "state key " + shown(key) + " is longer than " + std::to_string(kMaxKeyLength) +
           " characters";
  }
  for (char c : key) {
    if (!allowed(c)) return "state key " + shown(key) + " may contain only a-z, 0-9 and '-'";
  }
  if (key.front() == '-' || key.back() == '-') {
    return "state key " + shown(key) + " must start and end with a letter or digit";
  }
  return {};
}

}  // namespace pgdc::state
