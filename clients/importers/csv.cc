#include "clients/importers/csv.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vla::importers {

CsvReader::CsvReader(absl::string_view text) : text_(text) {
  if (absl::StartsWith(text_, "\xEF\xBB\xBF")) pos_ = 3;
}

bool CsvReader::ConsumeLineBreak() {
  if (pos_ >= text_.size()) return false;
  if (text_[pos_] == '\n') {
    ++pos_;
  } else if (text_[pos_] == '\r') {
    ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
  } else {
    return false;
  }
  ++line_;
  return true;
}

bool CsvReader::Next(CsvRecord& record) {
  while (ConsumeLineBreak()) {
  }
  if (pos_ >= text_.size()) return false;
  record.line = line_;
  record.fields.clear();
  record.error.clear();
  std::string field;
  while (true) {
    field.clear();
    if (pos_ < text_.size() && text_[pos_] == '"') {
      // A quoted field: up to the closing quote; "" is one quote.
      const int open_line = line_;
      ++pos_;
      bool closed = false;
      while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
            field.push_back('"');
            pos_ += 2;
            continue;
          }
          ++pos_;
          closed = true;
          break;
        }
        if (c == '\n' || c == '\r') {
          // Keep the line break as written (CRLF stays CRLF) and count it.
          const size_t start = pos_;
          ConsumeLineBreak();
          field.append(text_.data() + start, pos_ - start);
          continue;
        }
        field.push_back(c);
        ++pos_;
      }
      if (!closed) {
        record.error = absl::StrCat("field ", record.fields.size() + 1,
                                    ": quote opened on line ", open_line,
                                    " is never closed");
        return true;
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
          text_[pos_] != '\r' && record.error.empty()) {
        record.error = absl::StrCat("field ", record.fields.size() + 1,
                                    ": text after the closing quote");
      }
    }
    // The rest of an unquoted field (a quote inside one is kept as text), or
    // the junk after a quoted one (already reported): up to the next comma or
    // line break.
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
           text_[pos_] != '\r') {
      field.push_back(text_[pos_]);
      ++pos_;
    }
    record.fields.push_back(field);
    if (pos_ < text_.size() && text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    ConsumeLineBreak();
    return true;
  }
}

}  // namespace vla::importers
