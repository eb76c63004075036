#include "clients/vlactl/records.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "clients/vlactl/yaml_message.h"
#include "google/protobuf/util/json_util.h"

namespace vla::vlactl {
namespace {

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

// A record is one line: "line 1: " says nothing.
absl::Status WithoutLine(const absl::Status& s) {
  absl::string_view message = s.message();
  absl::ConsumePrefix(&message, "line 1: ");
  return absl::Status(s.code(), message);
}

}  // namespace

absl::StatusOr<Record> ParseRecordLine(absl::string_view line) {
  const absl::string_view text = absl::StripAsciiWhitespace(line);
  if (text.empty() || text[0] == '#') return Record();
  YAML::Node node;
  try {
    node = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.msg));
  }
  if (!node.IsMap() || node.size() != 1) {
    return absl::InvalidArgumentError(
        "expected an object with one key, observation or work_item_event");
  }
  try {
    const auto entry = *node.begin();
    const std::string key = entry.first.as<std::string>();
    if (key == "observation") {
      v1::Observation o;
      if (auto s = FillMessageFromYaml(entry.second, &o, key); !s.ok()) {
        return WithoutLine(s);
      }
      return Record(std::move(o));
    }
    if (key == "work_item_event" || key == "workItemEvent") {
      v1::WorkItemEvent e;
      if (auto s = FillMessageFromYaml(entry.second, &e, "work_item_event");
          !s.ok()) {
        return WithoutLine(s);
      }
      return Record(std::move(e));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("unknown record type \"", key,
                     "\" (expected observation or work_item_event)"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.msg));
  }
}

std::string RecordToLine(const v1::Observation& observation) {
  return absl::StrCat("{\"observation\":", ToJson(observation), "}");
}

std::string RecordToLine(const v1::WorkItemEvent& event) {
  return absl::StrCat("{\"work_item_event\":", ToJson(event), "}");
}

}  // namespace vla::vlactl
