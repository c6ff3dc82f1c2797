// The rule for state object keys (state_backend.h): 1-63 characters of
// [a-z0-9-], starting and ending with a letter or digit. A key is used as a
// file name (FileStateBackend) and as part of a ConfigMap name, so it can
// never hold '/', '.', or anything a shell or a URL would treat specially.
#pragma once

#include <string>
#include <string_view>

namespace pgdc::state {

inline constexpr std::size_t kMaxKeyLength = 63;

// Empty when `key` is valid; otherwise why not, quoting the key, e.g.
//   state key "a_b" may contain only a-z, 0-9 and '-'
std::string key_problem(std::string_view key);

}  // namespace pgdc::state
