#include "members/member.h"

#include <cstddef>
#include <cstdint>

namespace pgdc::members {
namespace {

// The next dot part's leading digits (0 when none), advancing past the dot.
std::uint64_t next_part(std::string_view& s) {
  std::uint64_t n = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (n < (UINT64_MAX - 9) / 10) n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
  }
  const auto dot = s.find('.', i);
  s.remove_prefix(dot == std::string_view::npos ? s.size() : dot + 1);
  return n;
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    const std::uint64_t x = next_part(a);
    const std::uint64_t y = next_part(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

}  // namespace pgdc::members
