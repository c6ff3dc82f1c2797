// The on-disk object format: what decodes, and that every kind of damage is
// a named problem, never an empty object.
#include "state/state_file_format.h"

#include <gtest/gtest.h>

#include <string>

#include "state/crc32c.h"
#include "state/state_key.h"

namespace pgdc::state {
namespace {

TEST(Crc32c, StandardCheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c_extend(crc32c("1234"), "56789"), crc32c("123456789"));
}

TEST(StateFileFormat, RoundTrips) {
  const std::string value = std::string("a\nb\0c", 5) + "\xff";
  const std::string bytes = encode_state_file(7, value);
  EXPECT_TRUE(bytes.starts_with("pgdc-state 1 7 6 ")) << bytes;
  const DecodedStateFile d = decode_state_file(bytes);
  ASSERT_TRUE(d.ok) << d.problem;
  EXPECT_EQ(d.generation, 7u);
  EXPECT_EQ(d.value, value);
}

TEST(StateFileFormat, EmptyValueRoundTrips) {
  const DecodedStateFile d = decode_state_file(encode_state_file(1, ""));
  ASSERT_TRUE(d.ok) << d.problem;
  EXPECT_EQ(d.value, "");
}

std::string problem_of(const std::string& bytes) {
  const DecodedStateFile d = decode_state_file(bytes);
  EXPECT_FALSE(d.ok) << bytes;
  EXPECT_TRUE(d.value.empty());
  return d.problem;
}

TEST(StateFileFormat, EveryTruncationIsAProblem) {
  const std::string bytes = encode_state_file(3, "{\"nodes\":[1,2,3]}");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_FALSE(problem_of(bytes.substr(0, n)).empty());
  }
}

TEST(StateFileFormat, NamesWhatIsWrong) {
  const std::string good = encode_state_file(3, "hello");
  EXPECT_EQ(problem_of(""), "the file is empty");
  EXPECT_EQ(problem_of("hello"), "it does not start with \"pgdc-state\"");
  EXPECT_EQ(problem_of("pgdc-state 1 3"), "the header line is incomplete");
  EXPECT_EQ(problem_of(good + "!"), "the header says 5 bytes of value, the file holds 6");
  EXPECT_EQ(problem_of(good.substr(0, good.size() - 1)),
            "the header says 5 bytes of value, the file holds 4");
  std::string edited = good;
  edited.back() = 'O';  // same length, other content
  EXPECT_EQ(problem_of(edited), "the checksum does not match the content");
  std::string regenerated = good;
  regenerated[13] = '4';  // "pgdc-state 1 3" -> generation 4: the checksum covers it
  EXPECT_EQ(problem_of(regenerated), "the checksum does not match the content");
  EXPECT_EQ(problem_of("pgdc-state 2 1 0 00000000\n"),
            "format 2 is not known (written by a newer pgdog-control?)");
  EXPECT_EQ(problem_of("pgdc-state 1 0 0 00000000\n"),
            "the header's generation is not a positive decimal");
  EXPECT_EQ(problem_of("pgdc-state 1 01 0 00000000\n"),
            "the header's generation is not a positive decimal");
  EXPECT_EQ(problem_of("pgdc-state 1 1 -0 00000000\n"), "the header's length is not a decimal");
  EXPECT_EQ(problem_of("pgdc-state 1 1 0\n"), "the header line is malformed");
}

TEST(StateKey, TheContractsRule) {
  EXPECT_EQ(key_problem("nodes-shop-1"), "");
  EXPECT_EQ(key_problem("a"), "");
  EXPECT_EQ(key_problem(std::string(63, 'a')), "");
  EXPECT_EQ(key_problem(""), "state key must not be empty");
  EXPECT_EQ(key_problem(std::string(64, 'a')),
            "state key \"" + std::string(63, 'a') + "...\" is longer than 63 characters");
  EXPECT_EQ(key_problem("Nodes"), "state key \"Nodes\" may contain only a-z, 0-9 and '-'");
  EXPECT_EQ(key_problem("../x"), "state key \"../x\" may contain only a-z, 0-9 and '-'");
  EXPECT_EQ(key_problem("a.state"), "state key \"a.state\" may contain only a-z, 0-9 and '-'");
  EXPECT_EQ(key_problem("-a"), "state key \"-a\" must start and end with a letter or digit");
  EXPECT_EQ(key_problem("a-"), "state key \"a-\" must start and end with a letter or digit");
  EXPECT_EQ(key_problem("a\nb"), "state key \"a?b\" may contain only a-z, 0-9 and '-'");
}

}  // namespace
}  // namespace pgdc::state
