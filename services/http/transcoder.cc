#include "services/http/transcoder.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/enum_names.h"
#include "common/log.h"

namespace vla::http {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using Json = nlohmann::json;

// A field of `d` by proto name or JSON name.
const FieldDescriptor* FindField(const Descriptor* d, absl::string_view name) {
  if (const FieldDescriptor* f = d->FindFieldByName(std::string(name))) {
    return f;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == name) return d->field(i);
  }
  return nullptr;
}

// Messages whose JSON form is a string (or a scalar), so a query parameter
// can carry them.
bool IsScalarMessage(const Descriptor* d) {
  static const auto* const kNames = new std::vector<std::string>{
      "google.protobuf.Timestamp",   "google.protobuf.Duration",
      "google.protobuf.FieldMask",   "google.protobuf.StringValue",
      "google.protobuf.BytesValue",  "google.protobuf.BoolValue",
      "google.protobuf.Int32Value",  "google.protobuf.Int64Value",
      "google.protobuf.UInt32Value", "google.protobuf.UInt64Value",
      "google.protobuf.FloatValue",  "google.protobuf.DoubleValue"};
  for (const std::string& n : *kNames) {
    if (d->full_name() == n) return true;
  }
  return false;
}

// The JSON value of `text` for a field of `f`'s type; protobuf's parser
// then checks it (numbers may be given as strings in proto3 JSON).
absl::StatusOr<Json> LeafValue(const FieldDescriptor* f, absl::string_view name,
                               const std::string& text) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: {
      const std::string v = absl::AsciiStrToLower(text);
      if (v == "true" || v == "1") return Json(true);
      if (v == "false" || v == "0") return Json(false);
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": \"", text.substr(0, 40), "\" is not true or false"));
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const bool digits =
          !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
            return absl::ascii_isdigit(static_cast<unsigned char>(c));
          });
      if (digits && text.size() < 10) return Json(std::stoi(text));
      // Also a short name (`period=MONTH`, as api.md writes them).
      const auto* value = FindEnumValue(f->enum_type(), text);
      return Json(value != nullptr ? value->name() : text);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (!IsScalarMessage(f->message_type())) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, ": a message field cannot be a query parameter"));
      }
      return Json(text);
    default:
      return Json(text);
  }
}

// Sets the field at the dotted `path` of `root` (a JSON object for a
// message of type `d`) to `text`; `name` is how the caller wrote it.
absl::Status SetPath(const Descriptor* d, absl::string_view path,
                     absl::string_view name, const std::string& text,
                     Json* root) {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  Json* node = root;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = FindField(d, parts[i]);
    if (f == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": no field \"", parts[i], "\" in ", d->full_name()));
    }
    const std::string key = f->json_name();
    if (i + 1 < parts.size()) {
      if (f->is_repeated() ||
          f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
          IsScalarMessage(f->message_type())) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": \"", parts[i], "\" is not a message field"));
      }
      Json& child = (*node)[key];
      if (!child.is_object()) child = Json::object();
      node = &child;
      d = f->message_type();
      continue;
    }
    if (f->is_map()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": a map field cannot be a query parameter"));
    }
    absl::StatusOr<Json> value = LeafValue(f, name, text);
    if (!value.ok()) return value.status();
    if (f->is_repeated()) {
      Json& list = (*node)[key];
      if (!list.is_array()) list = Json::array();
      list.push_back(*std::move(value));
    } else if (node->contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": given more than once (or bound by the path)"));
    } else {
      (*node)[key] = *std::move(value);
    }
  }
  return absl::OkStatus();
}

// The top-level field a dotted path starts with.
const FieldDescriptor* TopField(const Descriptor* d, absl::string_view path) {
  return FindField(d, path.substr(0, path.find('.')));
}

absl::Status ParseJsonInto(absl::string_view json, absl::string_view what,
                           google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message,
      options);
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": ", std::string(status.message())));
}

}  // namespace

absl::Status BuildRequest(const Route& route, const Bindings& bindings,
                          const QueryParams& query, absl::string_view body,
                          google::protobuf::Message* request) {
  const Descriptor* d = request->GetDescriptor();
  // The body first: path and query values then take precedence.
  if (!route.body.empty()) {
    const absl::string_view json =
        absl::StripAsciiWhitespace(body).empty() ? "{}" : body;
    if (route.body == "*") {
      absl::Status s = ParseJsonInto(json, "body", request);
      if (!s.ok()) return s;
    } else {
      const FieldDescriptor* f = d->FindFieldByName(route.body);
      absl::Status s = ParseJsonInto(
          json, "body", request->GetReflection()->MutableMessage(request, f));
      if (!s.ok()) return s;
    }
  } else if (!absl::StripAsciiWhitespace(body).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "body: ", route.http_method, " ", route.path.text(), " takes no body"));
  }

  Json overlay = Json::object();
  for (const auto& [path, value] : bindings) {
    absl::Status s = SetPath(d, path, path, value, &overlay);
    if (!s.ok()) return s;
  }
  for (const auto& [name, value] : query) {
    // Standard parameters of every Google API, meaningless here.
    if (name == "alt" || name == "$alt") continue;
    const FieldDescriptor* top = TopField(d, name);
    if (route.body == "*" || (top != nullptr && top->name() == route.body)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query parameter ", name, ": this field belongs in the body"));
    }
    absl::Status s = SetPath(d, name, absl::StrCat("query parameter ", name),
                             value, &overlay);
    if (!s.ok()) return s;
  }
  if (overlay.empty()) return absl::OkStatus();
  std::unique_ptr<google::protobuf::Message> extra(request->New());
  absl::Status s = ParseJsonInto(overlay.dump(), "path or query", extra.get());
  if (!s.ok()) return s;
  request->MergeFrom(*extra);
  return absl::OkStatus();
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string out;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ErrorJson(const absl::Status& status, int http_status) {
  return absl::StrCat(R"({"error":{"code":)",
                      http_status ? http_status : HttpStatusOf(status.code()),
                      R"(,"status":)",
                      JsonQuote(absl::StatusCodeToString(status.code())),
                      R"(,"message":)", JsonQuote(status.message()), "}}");
}

}  // namespace vla::http
