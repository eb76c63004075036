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

TEST(ResumeTokenTest, RoundTripWithinAnEpoch) {
  ResumeTokenCodec codec("secret", "Watch", 42);
  auto sequence = codec.Decode(codec.Encode(1234));
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_EQ(*sequence, 1234);
}

TEST(ResumeTokenTest, AnotherEpochResumesNothing) {
  ResumeTokenCodec before("secret", "Watch", 42), after("secret", "Watch", 43);
  auto sequence = after.Decode(before.Encode(7));
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_EQ(*sequence, -1);
  // So does a signed token without an epoch (an older version's).
  PageTokenCodec old("secret");
  sequence = after.Decode(old.Encode("Watch", "7"));
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_EQ(*sequence, -1);
}

TEST(ResumeTokenTest, AlteredOrForeignTokensAreRefused) {
  ResumeTokenCodec codec("secret", "Watch", 42);
  const std::string token = codec.Encode(7);
  for (const std::string& bad :
       {token + "x", std::string("abc"), std::string(),
        ResumeTokenCodec("other", "Watch", 42).Encode(7),
        ResumeTokenCodec("secret", "List", 42).Encode(7)}) {
    EXPECT_THAT(
        codec.Decode(bad).status(),
        AbslIsCodeWith(absl::StatusCode::kInvalidArgument, "resume_token"))
        << bad;
  }
}

}  // namespace
}  // namespace vla
