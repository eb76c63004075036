#include "services/common/page_token.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace vla {
namespace {

using testing::AbslIsCodeWith;

TEST(PageTokenTest, RoundTrip) {
  PageTokenCodec codec(NewRandomSecret());
  const std::string token = codec.Encode("teams\nkind = PROVIDER", "team-042");
  EXPECT_EQ(token.find("team-042"), std::string::npos) << "token is opaque";
  auto cursor = codec.Decode("teams\nkind = PROVIDER", token);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(*cursor, "team-042");
}

TEST(PageTokenTest, EmptyTokenIsFirstPage) {
  PageTokenCodec codec("secret");
  auto cursor = codec.Decode("scope", "");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, "");
}

TEST(PageTokenTest, EveryAlteredCharacterIsRejected) {
  PageTokenCodec codec(NewRandomSecret());
  const std::string token = codec.Encode("kvis\n", "kvi-7");
  for (size_t i = 0; i < token.size(); ++i) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_EQ(codec.Decode("kvis\n", bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "position " << i;
  }
}

TEST(PageTokenTest, ForgedWithAnotherSecret) {
  PageTokenCodec mine("secret-1"), theirs("secret-2");
  EXPECT_THAT(mine.Decode("s", theirs.Encode("s", "x")).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "page_token"));
}

TEST(PageTokenTest, OtherFilter) {
  PageTokenCodec codec("secret");
  EXPECT_THAT(codec.Decode("vlas\nstate = ACTIVE", codec.Encode("vlas\n", "a"))
                  .status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument,
                             "different method or filter"));
}

TEST(PageTokenTest, Garbage) {
  PageTokenCodec codec("secret");
  for (const char* bad :
       {"!!!", "abc", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    EXPECT_THAT(
        codec.Decode("s", bad).status(),
        AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "page_token"))
        << bad;
  }
  EXPECT_THAT(codec.Decode("s", std::string(5000, 'A')).status(),
              AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "too long"));
}

}  // namespace
}  // namespace vla
