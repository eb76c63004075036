#include "services/common/filter.h"

#include <cctype>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vla {
namespace {

enum class TokenKind { kIdent, kString, kNumber, kEq, kNe, kEnd };

struct Token {
  TokenKind kind;
  std::string text;
  size_t pos;
};

absl::Status FilterError(size_t pos, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("filter: ", why, " at position ", pos + 1));
}

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '=') {
      tokens.push_back({TokenKind::kEq, "=", i});
      ++i;
    } else if (c == '!' && i + 1 < s.size() && s[i + 1] == '=') {
      tokens.push_back({TokenKind::kNe, "!=", i});
      i += 2;
    } else if (c == '"' || c == '\'') {
      const size_t start = i++;
      std::string value;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          value.push_back(s[i + 1]);
          i += 2;
        } else if (s[i] == c) {
          closed = true;
          ++i;
          break;
        } else {
          value.push_back(s[i++]);
        }
      }
      if (!closed) return FilterError(start, "unterminated string");
      tokens.push_back({TokenKind::kString, std::move(value), start});
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const size_t start = i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) ||
                              s[i] == '_' || s[i] == '.')) {
        ++i;
      }
      tokens.push_back(
          {TokenKind::kIdent, std::string(s.substr(start, i - start)), start});
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
               c == '+' || c == '.') {
      const size_t start = i++;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) ||
                              s[i] == '.' || s[i] == '-' || s[i] == '+')) {
        ++i;
      }
      tokens.push_back(
          {TokenKind::kNumber, std::string(s.substr(start, i - start)), start});
    } else {
      return FilterError(
          i, absl::StrCat("unexpected character '", std::string(1, c), "'"));
    }
  }
  tokens.push_back({TokenKind::kEnd, "", s.size()});
  return tokens;
}

absl::StatusOr<std::string> NormalizeValue(const FilterField& field,
                                           const Token& token) {
  switch (field.type) {
    case FilterField::Type::kString:
      if (token.kind != TokenKind::kString) {
        return FilterError(token.pos, absl::StrCat("field ", field.name,
                                                   " wants a quoted string"));
      }
      return token.text;
    case FilterField::Type::kBool:
      if (token.kind == TokenKind::kIdent &&
          (token.text == "true" || token.text == "false")) {
        return token.text;
      }
      return FilterError(token.pos, absl::StrCat("field ", field.name,
                                                 " wants true or false"));
    case FilterField::Type::kNumber: {
      double v;
      if (token.kind != TokenKind::kNumber ||
          !absl::SimpleAtod(token.text, &v) || !std::isfinite(v)) {
        return FilterError(
            token.pos, absl::StrCat("field ", field.name, " wants a number"));
      }
      return FormatFilterNumber(v);
    }
    case FilterField::Type::kEnum: {
      if (token.kind != TokenKind::kIdent && token.kind != TokenKind::kString) {
        return FilterError(token.pos, absl::StrCat("field ", field.name,
                                                   " wants an enum value"));
      }
      const auto* e = field.enum_type;
      const google::protobuf::EnumValueDescriptor* v =
          e->FindValueByName(token.text);
      if (v == nullptr) {
        // Short form: the value name without the enum's prefix.
        const google::protobuf::EnumValueDescriptor* zero = e->value(0);
        std::string prefix(zero->name());
        const size_t cut = prefix.rfind("UNSPECIFIED");
        prefix = cut == std::string::npos ? "" : prefix.substr(0, cut);
        v = e->FindValueByName(prefix + token.text);
      }
      if (v == nullptr || v->number() == 0) {
        std::vector<std::string> names;
        for (int i = 1; i < e->value_count(); ++i) {
          names.push_back(e->value(i)->name());
        }
        return FilterError(
            token.pos,
            absl::StrCat("field ", field.name, ": unknown value ", token.text,
                         "; one of ", absl::StrJoin(names, ", ")));
      }
      return std::string(v->name());
    }
  }
  return FilterError(token.pos, "unsupported field type");
}

}  // namespace

std::string FormatFilterNumber(double value) { return absl::StrCat(value); }

absl::StatusOr<Filter> Filter::Parse(absl::string_view text,
                                     absl::Span<const FilterField> fields) {
  if (text.size() > 4096) {
    return absl::InvalidArgumentError("filter: longer than 4096 characters");
  }
  auto tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Filter filter;
  size_t i = 0;
  const std::vector<Token>& t = *tokens;
  if (t[0].kind == TokenKind::kEnd) return filter;
  while (true) {
    if (t[i].kind != TokenKind::kIdent) {
      return FilterError(t[i].pos, "expected a field name");
    }
    const FilterField* field = nullptr;
    for (const FilterField& f : fields) {
      if (f.name == t[i].text) field = &f;
    }
    if (field == nullptr) {
      std::vector<std::string> names;
      for (const FilterField& f : fields) names.push_back(f.name);
      return FilterError(
          t[i].pos,
          absl::StrCat("unknown field \"", t[i].text, "\"; allowed: ",
                       names.empty() ? "none" : absl::StrJoin(names, ", ")));
    }
    ++i;
    if (t[i].kind != TokenKind::kEq && t[i].kind != TokenKind::kNe) {
      return FilterError(t[i].pos, "expected = or !=");
    }
    Term term;
    term.field = field->name;
    term.negated = t[i].kind == TokenKind::kNe;
    ++i;
    if (t[i].kind == TokenKind::kEnd) {
      return FilterError(t[i].pos, "expected a value");
    }
    auto value = NormalizeValue(*field, t[i]);
    if (!value.ok()) return value.status();
    term.value = *std::move(value);
    filter.terms_.push_back(std::move(term));
    ++i;
    if (t[i].kind == TokenKind::kEnd) break;
    if (t[i].kind != TokenKind::kIdent || t[i].text != "AND") {
      return FilterError(t[i].pos, "expected AND");
    }
    ++i;
  }
  return filter;
}

bool Filter::Matches(ValuesFn values) const {
  std::vector<std::string> held;  // the values of the term being checked
  return MatchesSpans([&](absl::string_view field) {
    held = values(field);
    return absl::Span<const std::string>(held);
  });
}

bool Filter::MatchesSpans(SpanValuesFn values) const {
  for (const Term& term : terms_) {
    bool any = false;
    for (const std::string& v : values(term.field)) {
      if (v == term.value) {
        any = true;
        break;
      }
    }
    if (any == term.negated) return false;
  }
  return true;
}

const std::string* Filter::EqualityValue(absl::string_view field) const {
  for (const Term& term : terms_) {
    if (!term.negated && term.field == field) return &term.value;
  }
  return nullptr;
}

}  // namespace vla
