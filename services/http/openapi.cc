#include "services/http/openapi.h"

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace vla::http {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using Json = nlohmann::json;

Json Ref(const Descriptor* d) {
  return Json{{"$ref", absl::StrCat("#/components/schemas/", d->full_name())}};
}

class SchemaBuilder {
 public:
  // The schema of a field's value (one element for repeated fields).
  Json Value(const FieldDescriptor* f) {
    switch (f->type()) {
      case FieldDescriptor::TYPE_BOOL:
        return {{"type", "boolean"}};
      case FieldDescriptor::TYPE_STRING:
        return {{"type", "string"}};
      case FieldDescriptor::TYPE_BYTES:
        return {{"type", "string"}, {"format", "byte"}};
      case FieldDescriptor::TYPE_DOUBLE:
      case FieldDescriptor::TYPE_FLOAT:
        return {{"type", "number"}};
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_FIXED64:
      case FieldDescriptor::TYPE_SFIXED64:
        // proto3 JSON writes 64-bit integers as strings.
        return {{"type", "string"}, {"format", "int64"}};
      case FieldDescriptor::TYPE_ENUM: {
        Json values = Json::array();
        for (int i = 0; i < f->enum_type()->value_count(); ++i) {
          values.push_back(f->enum_type()->value(i)->name());
        }
        return {{"type", "string"}, {"enum", values}};
      }
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        return Message(f->message_type());
      default:
        return {{"type", "integer"}, {"format", "int32"}};
    }
  }

  // A reference to the schema of `d`, added to the components on first use.
  Json Message(const Descriptor* d) {
    const std::string& name = d->full_name();
    if (name == "google.protobuf.Timestamp") {
      return {{"type", "string"}, {"format", "date-time"}};
    }
    if (name == "google.protobuf.Duration") {
      return {{"type", "string"}, {"example", "3600s"}};
    }
    if (name == "google.protobuf.FieldMask") {
      return {{"type", "string"}, {"example", "displayName,description"}};
    }
    if (name == "google.protobuf.Empty") return {{"type", "object"}};
    if (seen_.insert(name).second) {
      Json properties = Json::object();
      for (int i = 0; i < d->field_count(); ++i) {
        const FieldDescriptor* f = d->field(i);
        if (f->is_map()) {
          properties[f->json_name()] = {
              {"type", "object"},
              {"additionalProperties", Value(f->message_type()->map_value())}};
        } else if (f->is_repeated()) {
          properties[f->json_name()] = {{"type", "array"}, {"items", Value(f)}};
        } else {
          properties[f->json_name()] = Value(f);
        }
      }
      schemas_[name] = {{"type", "object"}, {"properties", properties}};
    }
    return Ref(d);
  }

  Json& schemas() { return schemas_; }

 private:
  std::set<std::string> seen_;
  Json schemas_ = Json::object();
};

// Query parameters: top-level scalar fields not bound by the path or body
// (nested ones can be given dotted, as AIP-127 allows; not listed).
Json Parameters(const Route& route, SchemaBuilder& schemas) {
  Json params = Json::array();
  std::set<std::string> bound;
  for (const std::string& v : route.path.variables()) {
    params.push_back(
        {{"name", v},
         {"in", "path"},
         {"required", true},
         {"description",
          absl::StrCat("Fills the wildcard of the path; the request field `", v,
                       "` is the resource name around it.")},
         {"schema", {{"type", "string"}}}});
    bound.insert(v.substr(0, v.find('.')));
  }
  if (route.body == "*") return params;
  const Descriptor* d = route.method->input_type();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (bound.count(f->name()) || f->name() == route.body || f->is_map()) {
      continue;
    }
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      const std::string& n = f->message_type()->full_name();
      if (n != "google.protobuf.Timestamp" && n != "google.protobuf.Duration" &&
          n != "google.protobuf.FieldMask") {
        continue;
      }
    }
    Json schema = f->is_repeated()
                      ? Json{{"type", "array"}, {"items", schemas.Value(f)}}
                      : schemas.Value(f);
    params.push_back(
        {{"name", f->json_name()}, {"in", "query"}, {"schema", schema}});
  }
  return params;
}

}  // namespace

std::string OpenApiDocument(const RouteTable& routes,
                            const std::vector<ExtraRoute>& extra) {
  SchemaBuilder schemas;
  Json paths = Json::object();
  const Json error_response = {
      {"description",
       "Google's JSON error: {\"error\": {code, status, message}}"},
      {"content",
       {{"application/json",
         {{"schema",
           {{"type", "object"},
            {"properties",
             {{"error",
               {{"type", "object"},
                {"properties",
                 {{"code", {{"type", "integer"}}},
                  {"status", {{"type", "string"}}},
                  {"message", {{"type", "string"}}}}}}}}}}}}}}}};
  for (const Route& route : routes.routes()) {
    Json op;
    op["operationId"] = route.method->name();
    op["summary"] = route.grpc_method;
    op["tags"] = Json::array({route.method->service()->name()});
    op["parameters"] = Parameters(route, schemas);
    if (!route.body.empty()) {
      const Json schema =
          route.body == "*"
              ? schemas.Message(route.method->input_type())
              : schemas.Value(
                    route.method->input_type()->FindFieldByName(route.body));
      op["requestBody"] = {
          {"required", true},
          {"content", {{"application/json", {{"schema", schema}}}}}};
    }
    const Json out = schemas.Message(route.method->output_type());
    Json content;
    if (route.method->server_streaming()) {
      content = {{"application/x-ndjson", {{"schema", out}}},
                 {"text/event-stream", {{"schema", out}}}};
    } else {
      content = {{"application/json", {{"schema", out}}}};
    }
    op["responses"] = {{"200", {{"description", "OK"}, {"content", content}}},
                       {"default", error_response}};
    paths[route.path.OpenApiPath()][absl::AsciiStrToLower(route.http_method)] =
        std::move(op);
  }
  for (const ExtraRoute& r : extra) {
    Json op = {
        {"summary", r.summary},
        {"responses",
         {{"200", {{"description", "OK"}}}, {"default", error_response}}}};
    if (!r.request_content_type.empty()) {
      op["requestBody"] = {
          {"required", true},
          {"content",
           {{r.request_content_type, {{"schema", Json::object()}}}}}};
    }
    paths[r.path][absl::AsciiStrToLower(r.http_method)] = std::move(op);
  }
  Json doc = {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "VLA API (HTTP/JSON)"},
        {"version", "v1"},
        {"description",
         "The gRPC API of vlad transcoded by its google.api.http "
         "annotations; proto3 JSON mapping. Bearer tokens as for gRPC."}}},
      {"paths", paths},
      {"components",
       {{"schemas", schemas.schemas()},
        {"securitySchemes",
         {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
      {"security", Json::array({{{"bearer", Json::array()}}})}};
  return doc.dump();
}

}  // namespace vla::http
