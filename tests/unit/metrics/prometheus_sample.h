// Reading Prometheus' text exposition (Metrics::serialize()) in tests.
#pragma once

#include <string>

namespace pgdc::test {

// The value of the sample line for `series` (name plus labels), or "".
inline std::string sample(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const auto at = text.find(key);
  if (at == std::string::npos) return "";
  const auto end = text.find('\n', at + key.size());
  return text.substr(at + key.size(), end - at - key.size());
}

}  // namespace pgdc::test
