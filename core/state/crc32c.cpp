#include "state/crc32c.h"

#include <array>

namespace pgdc::state {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78;  // 0x1EDC6F41 bit-reversed

// One table entry per byte value: the remainder of that byte shifted through
// the polynomial eight times (the classic byte-at-a-time method).
constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t r = byte;
    for (int bit = 0; bit < 8; ++bit) r = (r & 1) ? (r >> 1) ^ kPolynomial : r >> 1;
    table[byte] = r;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kTable = make_table();

}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view data) {
  std::uint32_t r = ~crc;
  for (unsigned char c : data) r = kTable[(r ^ c) & 0xFF] ^ (r >> 8);
  return ~r;
}

std::uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

}  // namespace pgdc::state
