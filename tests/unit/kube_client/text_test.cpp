// The plugin's text helpers (client/text.h).
#include "client/text.h"

#include <gtest/gtest.h>

namespace pgdc::kube {
namespace {

TEST(Text, TrimRemovesSurroundingWhitespaceOnly) {
  EXPECT_EQ(trim(" \t\r\nab c\r\n"), "ab c");
  EXPECT_EQ(trim("token"), "token");
  EXPECT_EQ(trim("a\n"), "a");
  EXPECT_EQ(trim("\va\f"), "\va\f");  // only space, tab, CR and LF count
}

TEST(Text, TrimOfBlankIsEmpty) {
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t\r\n "), "");
}

}  // namespace
}  // namespace pgdc::kube
