#include "text/text.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace pgdc::text {
namespace {

TEST(Text, Trim) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
  // HTTP whitespace is spaces and tabs only: a stray CR stays (and then
  // fails whatever compares it).
  EXPECT_EQ(trim(" chunked\r ", kHttpWhitespace), "chunked\r");
  EXPECT_EQ(trim("\t gzip \t", kHttpWhitespace), "gzip");
}

TEST(Text, LowerAndIequalsAreAsciiOnly) {
  EXPECT_EQ(lower("Content-Type ÄB"), "content-type Äb");
  EXPECT_TRUE(iequals("Bearer ", "bearer "));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("gzip", "gzip "));
  EXPECT_FALSE(iequals("gzi@", "gzi`"));          // '@' + 32 is '`', not a letter
  EXPECT_FALSE(iequals("\xc3\x84", "\xc3\xa4"));  // Ä vs ä: not folded
}

TEST(Text, OneLineEscapesControlBytes) {
  EXPECT_EQ(one_line("a\nb\r\nc"), "a\\nb\\r\\nc");
  EXPECT_EQ(one_line("tab\tkept"), "tab\tkept");
  EXPECT_EQ(one_line("esc\x1b[31mred\x7f"), "esc\\x1b[31mred\\x7f");
  EXPECT_EQ(one_line(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(one_line("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 untouched
}

TEST(Text, RandomHex) {
  EXPECT_EQ(random_hex(0), "");
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string s = random_hex(8);
    ASSERT_EQ(s.size(), 8u);
    EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos) << s;
    seen.insert(s);
  }
  EXPECT_GT(seen.size(), 45u);  // 50 draws of 32 bits: collisions are ~1e-7 likely
  EXPECT_EQ(random_hex(21).size(), 21u);
}

}  // namespace
}  // namespace pgdc::text
