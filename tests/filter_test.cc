#include "services/common/filter.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/test_util.h"
#include "vla/v1/resources.pb.h"

namespace vla {
namespace {

using testing::AbslIsCodeWith;
using ::testing::HasSubstr;

const std::vector<FilterField>& Fields() {
  static const auto* const fields = new std::vector<FilterField>{
      {"team", FilterField::Type::kString, nullptr},
      {"state", FilterField::Type::kEnum, v1::VlaState_descriptor()},
      {"watermelon", FilterField::Type::kBool, nullptr},
      {"score", FilterField::Type::kNumber, nullptr},
  };
  return *fields;
}

bool Match(const Filter& f,
           const std::map<std::string, std::vector<std::string>>& values) {
  return f.Matches([&](absl::string_view field) {
    auto it = values.find(std::string(field));
    return it == values.end() ? std::vector<std::string>() : it->second;
  });
}

TEST(FilterTest, EmptyMatchesEverything) {
  auto f = Filter::Parse("  ", Fields());
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->empty());
  EXPECT_TRUE(Match(*f, {}));
}

TEST(FilterTest, ConjunctionOfStringEnumBoolNumber) {
  auto f = Filter::Parse(
      R"(team = "teams/a" AND state = ACTIVE AND watermelon = true AND score = 90)",
      Fields());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(Match(*f, {{"team", {"teams/b", "teams/a"}},
                         {"state", {"VLA_STATE_ACTIVE"}},
                         {"watermelon", {"true"}},
                         {"score", {FormatFilterNumber(90.0)}}}));
  EXPECT_FALSE(Match(*f, {{"team", {"teams/b"}},
                          {"state", {"VLA_STATE_ACTIVE"}},
                          {"watermelon", {"true"}},
                          {"score", {"90"}}}));
  EXPECT_FALSE(Match(*f, {{"team", {"teams/a"}},
                          {"state", {"VLA_STATE_DRAFT"}},
                          {"watermelon", {"true"}},
                          {"score", {"90"}}}));
}

TEST(FilterTest, FullEnumNameAndNotEqual) {
  auto f = Filter::Parse("state = VLA_STATE_RETIRED AND team != 'teams/x'",
                         Fields());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(
      Match(*f, {{"state", {"VLA_STATE_RETIRED"}}, {"team", {"teams/y"}}}));
  EXPECT_FALSE(Match(*f, {{"state", {"VLA_STATE_RETIRED"}},
                          {"team", {"teams/y", "teams/x"}}}));
  ASSERT_NE(f->EqualityValue("state"), nullptr);
  EXPECT_EQ(*f->EqualityValue("state"), "VLA_STATE_RETIRED");
  EXPECT_EQ(f->EqualityValue("team"), nullptr);
}

TEST(FilterTest, EscapedQuotes) {
  auto f = Filter::Parse(R"(team = "a\"b")", Fields());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(Match(*f, {{"team", {"a\"b"}}}));
}

TEST(FilterTest, Errors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"owner = \"x\"", "unknown field \"owner\"; allowed: team, state"},
      {"team", "expected = or !="},
      {"team =", "expected a value"},
      {"team = \"x", "unterminated string"},
      {"team = x", "wants a quoted string"},
      {"state = BOGUS", "unknown value BOGUS"},
      {"state = VLA_STATE_UNSPECIFIED", "unknown value"},
      {"watermelon = yes", "wants true or false"},
      {"score = abc", "wants a number"},
      {"team = \"a\" OR team = \"b\"", "expected AND"},
      {"team = \"a\" AND", "expected a field name"},
      {"team = \"a\" # x", "unexpected character '#'"},
  };
  for (const auto& [text, why] : cases) {
    auto f = Filter::Parse(text, Fields());
    EXPECT_THAT(f.status(),
                AbslIsCodeWith(absl::StatusCode::kInvalidArgument, why))
        << text;
    EXPECT_THAT(std::string(f.status().message()), HasSubstr("filter: "))
        << text;
  }
}

}  // namespace
}  // namespace vla
