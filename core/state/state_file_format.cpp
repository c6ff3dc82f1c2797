#include "state/state_file_format.h"

#include <charconv>
#include <cstdio>
#include <vector>

#include "state/crc32c.h"

namespace pgdc::state {
namespace {

// Longer than any valid header ("pgdc-state 1 " + 20 + 1 + 20 + 1 + 8 digits).
constexpr std::size_t kMaxHeaderBytes = 128;

std::string hex8(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// A decimal without sign or leading zeros ("0" itself is allowed here; the
// caller checks the range).
bool parse_decimal(std::string_view text, std::uint64_t& out) {
  if (text.empty() || (text.size() > 1 && text.front() == '0')) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

DecodedStateFile fail(std::string problem) {
  DecodedStateFile out;
  out.problem = std::move(problem);
  return out;
}

}  // namespace

std::string encode_state_file(std::uint64_t generation, std::string_view value) {
  std::string out(kStateFileMagic);
  out += ' ';
  out += kStateFileFormat;
  out += ' ' + std::to_string(generation) + ' ' + std::to_string(value.size()) + ' ';
  out += hex8(crc32c_extend(crc32c(out), value));
  out += '\n';
  out += value;
  return out;
}

DecodedStateFile decode_state_file(std::string_view bytes) {
  if (bytes.empty()) return fail("the file is empty");
  const std::size_t nl = bytes.substr(0, kMaxHeaderBytes).find('\n');
  if (!bytes.starts_with(kStateFileMagic)) {
    return fail("it does not start with \"" + std::string(kStateFileMagic) + "\"");
  }
  if (nl == std::string_view::npos) return fail("the header line is incomplete");
  const std::string_view header = bytes.substr(0, nl);
  const std::string_view value = bytes.substr(nl + 1);
  const std::vector<std::string_view> f = split(header, ' ');
  if (f.size() != 5 || f[0] != kStateFileMagic) return fail("the header line is malformed");
  if (f[1] != kStateFileFormat) {
    return fail("format " + std::string(f[1].substr(0, 16)) +
                " is not known (written by a newer pgdog-control?)");
  }
  std::uint64_t generation = 0;
  std::uint64_t length = 0;
  if (!parse_decimal(f[2], generation) || generation == 0) {
    return fail("the header's generation is not a positive decimal");
  }
  if (!parse_decimal(f[3], length)) return fail("the header's length is not a decimal");
  if (length != value.size()) {
    return fail("the header says " + std::to_string(length) + " bytes of value, the file holds " +
                std::to_string(value.size()));
  }
  // The checksum covers the header up to the space before the checksum.
  const std::string_view covered = header.substr(0, header.size() - f[4].size());
  const std::string want = hex8(crc32c_extend(crc32c(covered), value));
  if (f[4] != want) return fail("the checksum does not match the content");
  DecodedStateFile out;
  out.ok = true;
  out.generation = generation;
  out.value = std::string(value);
  return out;
}

}  // namespace pgdc::state
