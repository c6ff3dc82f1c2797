// The bytes of one state object on disk (FileStateBackend): a header line,
// then the value, nothing after it:
//
//   pgdc-state 1 <generation> <length> <crc32c>\n<value>
//
//   pgdc-state   the magic: not a state file otherwise
//   1            the format's version; another is refused, not guessed at
//   generation   the object's version, decimal, 1 for the first write, one
//                more at each write (no leading zeros)
//   length       the value's size in bytes, decimal
//   crc32c       8 lower-case hex digits: CRC-32C of the header up to and
//                including the space before it, then the value; so an edited
//                generation or length is caught as well as a torn value
//
// Decoding never guesses: anything that does not match exactly is a problem,
// never "no object" (that would silently lose state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgdc::state {

inline constexpr std::string_view kStateFileMagic = "pgdc-state";
inline constexpr std::string_view kStateFileFormat = "1";

std::string encode_state_file(std::uint64_t generation, std::string_view value);

struct DecodedStateFile {
  bool ok = false;
  std::uint64_t generation = 0;  // >= 1 when ok
  std::string value;
  std::string problem;  // when not ok: what is wrong, e.g. "the checksum does not match"
};

DecodedStateFile decode_state_file(std::string_view bytes);

}  // namespace pgdc::state
