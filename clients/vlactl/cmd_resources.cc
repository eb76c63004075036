// apply, get, list, delete, revisions.
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "clients/vlactl/apply.h"
#include "clients/vlactl/cli.h"
#include "clients/vlactl/documents.h"
#include "clients/vlactl/vmdb_client.h"
#include "common/proto_time.h"
#include "vla/v1/resources.pb.h"

namespace vla::vlactl {
namespace {

using google::protobuf::Message;

std::string Date(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d", FromProtoTime(t), absl::UTCTimeZone());
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromProtoTime(t),
                          absl::UTCTimeZone());
}

std::string Window(const v1::Window& w) {
  if (w.has_rolling()) {
    return absl::StrCat(
        "rolling ", HumanDuration(static_cast<double>(w.rolling().seconds())));
  }
  if (w.calendar() != v1::CALENDAR_PERIOD_UNSPECIFIED) {
    return absl::StrCat(ShortName(w.calendar()), " to date");
  }
  return "-";
}

std::string Measures(const v1::Kvi& k) {
  auto what = [](v1::Source source, const std::string& signal,
                 v1::WorkItemField field) {
    return source == v1::SOURCE_OBSERVATIONS ? signal : ShortName(field);
  };
  std::string agg = ShortName(k.aggregation());
  if (k.aggregation() == v1::AGGREGATION_RATIO) {
    return absl::StrCat("RATIO ",
                        what(k.numerator().source(), k.numerator().signal(),
                             k.numerator().field()),
                        " / ",
                        what(k.denominator().source(), k.denominator().signal(),
                             k.denominator().field()));
  }
  if (k.aggregation() == v1::AGGREGATION_PERCENTILE) {
    agg = absl::StrCat("P", Number(k.percentile()));
  } else if (k.aggregation() == v1::AGGREGATION_SHARE_AT_LEAST ||
             k.aggregation() == v1::AGGREGATION_SHARE_AT_MOST) {
    agg = absl::StrCat(agg, "(", Number(k.threshold()), ")");
  }
  return absl::StrCat(agg, " of ", what(k.source(), k.signal(), k.field()));
}

// The table form of resources of one kind.
Table ResourceTable(const KindInfo& kind,
                    const std::vector<std::unique_ptr<Message>>& items) {
  if (kind.descriptor == v1::Team::descriptor()) {
    Table t({"NAME", "KIND", "DISPLAY NAME", "REVISION"});
    for (const auto& m : items) {
      const auto& r = static_cast<const v1::Team&>(*m);
      t.AddRow({r.name(), ShortName(r.kind()), r.display_name(),
                absl::StrCat(r.revision())});
    }
    return t;
  }
  if (kind.descriptor == v1::ValueStream::descriptor()) {
    Table t({"NAME", "CONSUMER", "PROVIDERS", "STAGES", "REVISION"});
    for (const auto& m : items) {
      const auto& r = static_cast<const v1::ValueStream&>(*m);
      t.AddRow({r.name(), r.consumer(), absl::StrJoin(r.providers(), ","),
                absl::StrCat(r.stages_size()), absl::StrCat(r.revision())});
    }
    return t;
  }
  if (kind.descriptor == v1::Kvi::descriptor()) {
    Table t({"NAME", "MEASURES", "WINDOW", "DIRECTION", "UNIT", "CO-MEASURED",
             "REVISION"});
    for (const auto& m : items) {
      const auto& r = static_cast<const v1::Kvi&>(*m);
      t.AddRow({r.name(), Measures(r), Window(r.window()),
                ShortName(r.direction()), r.unit().empty() ? "-" : r.unit(),
                r.co_measurement().enabled() ? "yes" : "no",
                absl::StrCat(r.revision())});
    }
    return t;
  }
  if (kind.descriptor == v1::Vla::descriptor()) {
    Table t({"NAME", "STATE", "VALUE STREAM", "CLAUSES", "SLA", "REVISION"});
    for (const auto& m : items) {
      const auto& r = static_cast<const v1::Vla&>(*m);
      t.AddRow({r.name(), ShortName(r.state()), r.value_stream(),
                absl::StrCat(r.clauses_size()),
                r.sla().kvi().empty() ? "-"
                                      : absl::StrCat(r.sla().kvi(), " ",
                                                     Number(r.sla().target())),
                absl::StrCat(r.revision())});
    }
    return t;
  }
  Table t({"NAME", "KIND", "OWNERS", "PERIOD", "KEY RESULTS", "REVISION"});
  for (const auto& m : items) {
    const auto& r = static_cast<const v1::Objective&>(*m);
    t.AddRow(
        {r.name(), ShortName(r.kind()), absl::StrJoin(r.owners(), ","),
         absl::StrCat(Date(r.period_start()), " .. ", Date(r.period_end())),
         absl::StrCat(r.key_results_size()), absl::StrCat(r.revision())});
  }
  return t;
}

void PrintResources(Context& ctx, const KindInfo& kind,
                    const std::vector<std::unique_ptr<Message>>& items,
                    bool as_list) {
  if (ctx.format() == Format::kTable) {
    Table t = ResourceTable(kind, items);
    if (t.empty() && as_list) {
      ctx.err() << "No " << kind.plural << " found.\n";
      return;
    }
    t.Print(ctx.out(), ctx.color());
    return;
  }
  std::vector<std::string> docs;
  for (const auto& m : items) docs.push_back(ResourceToJson(*m));
  PrintDocuments(ctx.out(), ctx.format(), docs, as_list);
}

int RunApply(Context& ctx) {
  const std::vector<std::string> paths = ctx.GetAll("filename");
  if (paths.empty()) return ctx.Usage("apply: -f FILE|DIR is required");
  if (!ctx.args().empty()) {
    return ctx.Usage(absl::StrCat("apply: unexpected argument \"",
                                  ctx.args()[0], "\" (use -f)"));
  }
  std::vector<Document> docs;
  for (const std::string& path : paths) {
    absl::StatusOr<std::vector<Document>> loaded;
    if (path == "-") {
      std::stringstream text;
      text << std::cin.rdbuf();
      loaded = ParseDocuments(text.str(), "stdin");
    } else {
      loaded = LoadDocuments(path);
    }
    if (!loaded.ok()) {
      if (loaded.status().code() == absl::StatusCode::kInvalidArgument) {
        ctx.err() << "vlactl: nothing was applied after this error:\n";
      }
      return ctx.Fail(loaded.status());
    }
    for (Document& d : *loaded) docs.push_back(std::move(d));
  }
  const bool dry_run = ctx.Has("dry-run");
  VmdbClient vmdb(ctx.channel(), ctx.options());
  const absl::Status s =
      Apply(vmdb, std::move(docs), dry_run, [&](const ApplyResult& r) {
        ctx.out() << r.name << " " << ActionName(r.action)
                  << (dry_run ? " (dry run)" : "") << "\n";
        if (dry_run) {
          for (const std::string& c : r.changes) ctx.out() << "  " << c << "\n";
        }
      });
  if (!s.ok()) {
    if (dry_run || s.code() == absl::StatusCode::kInvalidArgument) {
      ctx.err() << "vlactl: nothing was applied after this error:\n";
    }
    return ctx.Fail(s);
  }
  return client::kExitOk;
}

// Every resource of `kind` that matches `filter`.
int ListKind(Context& ctx, const KindInfo& kind, const std::string& filter) {
  VmdbClient vmdb(ctx.channel(), ctx.options());
  std::vector<std::unique_ptr<Message>> items;
  const grpc::Status s = vmdb.List(kind, filter, &items);
  if (!s.ok()) return ctx.Fail(s);
  PrintResources(ctx, kind, items, true);
  return client::kExitOk;
}

int RunGet(Context& ctx) {
  if (ctx.args().empty()) return ctx.Usage("get: KIND/ID is required");
  // A kind alone lists, as kubectl does: `vlactl get kvis`.
  if (ctx.args().size() == 1 && ctx.args()[0].find('/') == std::string::npos) {
    if (const KindInfo* kind = FindKind(ctx.args()[0])) {
      return ListKind(ctx, *kind, ctx.Get("filter"));
    }
  }
  VmdbClient vmdb(ctx.channel(), ctx.options());
  std::vector<std::unique_ptr<Message>> items;
  const KindInfo* kind = nullptr;
  for (const std::string& arg : ctx.args()) {
    auto ref = ParseResourceRef(arg);
    if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
    if (kind != nullptr && kind != ref->kind) {
      return ctx.Usage("get: name resources of one kind at a time");
    }
    kind = ref->kind;
    auto m = VmdbClient::NewResource(*kind);
    const grpc::Status s = vmdb.Get(*kind, ref->name(), m.get());
    if (!s.ok()) return ctx.Fail(s);
    items.push_back(std::move(m));
  }
  PrintResources(ctx, *kind, items, items.size() > 1);
  return client::kExitOk;
}

int RunList(Context& ctx) {
  if (ctx.args().size() != 1) return ctx.Usage("list: KIND is required");
  const KindInfo* kind = FindKind(ctx.args()[0]);
  if (kind == nullptr) {
    return ctx.Usage(absl::StrCat(
        "list: \"", ctx.args()[0],
        "\" is not a kind (teams, valuestreams, kvis, vlas, objectives)"));
  }
  return ListKind(ctx, *kind, ctx.Get("filter"));
}

int RunDelete(Context& ctx) {
  if (ctx.args().empty()) return ctx.Usage("delete: KIND/ID is required");
  VmdbClient vmdb(ctx.channel(), ctx.options());
  for (const std::string& arg : ctx.args()) {
    auto ref = ParseResourceRef(arg);
    if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
    auto m = VmdbClient::NewResource(*ref->kind);
    grpc::Status s = vmdb.Get(*ref->kind, ref->name(), m.get());
    if (!s.ok()) return ctx.Fail(s);
    const std::string etag = m->GetReflection()->GetString(
        *m, m->GetDescriptor()->FindFieldByName("etag"));
    s = vmdb.Delete(*ref->kind, ref->name(), etag);
    if (!s.ok()) return ctx.Fail(s);
    ctx.out() << ref->name() << " deleted\n";
  }
  return client::kExitOk;
}

int RunRevisions(Context& ctx) {
  if (ctx.args().size() != 1) return ctx.Usage("revisions: vla/ID is required");
  auto ref = ParseResourceRef(ctx.args()[0]);
  if (!ref.ok()) return ctx.Usage(std::string(ref.status().message()));
  if (ref->kind->descriptor != v1::Vla::descriptor()) {
    return ctx.Usage("revisions: only VLAs keep revisions (vla/ID)");
  }
  VmdbClient vmdb(ctx.channel(), ctx.options());
  v1::ListVlaRevisionsRequest req;
  req.set_name(ref->name());
  v1::ListVlaRevisionsResponse resp;
  const grpc::Status s = client::CallWithRetry(
      ctx.options(), client::RetryPolicy(), [&](grpc::ClientContext* c) {
        return vmdb.stub().ListVlaRevisions(c, req, &resp);
      });
  if (!s.ok()) return ctx.Fail(s);
  if (ctx.format() == Format::kTable) {
    Table t({"REVISION", "UPDATED", "STATE", "CLAUSES", "PASS", "WARNING"});
    for (const v1::Vla& v : resp.revisions()) {
      t.AddRow({absl::StrCat(v.revision()), Time(v.update_time()),
                ShortName(v.state()), absl::StrCat(v.clauses_size()),
                Number(v.pass_score() == 0 ? 90 : v.pass_score()),
                Number(v.warning_score() == 0 ? 75 : v.warning_score())});
    }
    t.Print(ctx.out(), ctx.color());
    return client::kExitOk;
  }
  std::vector<std::string> docs;
  for (const v1::Vla& v : resp.revisions()) docs.push_back(ResourceToJson(v));
  PrintDocuments(ctx.out(), ctx.format(), docs, true);
  return client::kExitOk;
}

}  // namespace

std::vector<Command> ResourceCommands() {
  return {
      {"apply",
       "apply -f FILE|DIR [-f ...] [--dry-run]",
       "Create or update resources from YAML or JSON documents.",
       "Each document has `kind` (Team, ValueStream, Kvi, Vla, Objective), "
       "`id`, and the\nresource's fields as in protos/vla/v1/resources.proto "
       "(enum values short or full;\ndurations like 30d; times RFC 3339 or "
       "dates). A team's or objective's own kind is\nwritten team_kind / "
       "objective_kind. Several documents per file (---). A\ndirectory is "
       "read recursively (*.yaml, *.yml, *.json).\n\nEvery document and "
       "reference is checked before anything is written: on an\nerror "
       "nothing is applied and the error names file, document and field.\n"
       "Resources are applied in dependency order and reported as created, "
       "configured\n(updated with the etag read and a mask of the changed "
       "fields) or unchanged.\n",
       {{"filename", 'f', "FILE|DIR",
         "documents to apply (repeatable; - for stdin)"},
        {"dry-run", 0, "", "only show what would change"}},
       false,
       RunApply},
      {"get",
       "get KIND/ID... | get KIND [--filter F]",
       "Show resources, or list every resource of a kind.",
       "Examples: vlactl get vla/incident-back-to-work -o yaml\n"
       "          vlactl get kvi/happiness kvi/p90-lead-time\n"
       "          vlactl get kvis            (the same as vlactl list kvis)\n"
       "The yaml and json output can be applied again.\n",
       {{"filter", 0, "FILTER", "with KIND alone: only resources that match"}},
       true,
       RunGet},
      {"list",
       "list KIND [--filter F]",
       "List resources of one kind.",
       "Filters as in the API (AIP-160 subset), e.g.\n"
       "  vlactl list vlas --filter 'state = ACTIVE'\n"
       "  vlactl list kvis --filter 'value_stream = "
       "\"valueStreams/incident-to-back-to-work\"'\n",
       {{"filter", 0, "FILTER", "only resources that match"}},
       true,
       RunList},
      {"delete",
       "delete KIND/ID...",
       "Delete resources (with their etag).",
       "",
       {},
       false,
       RunDelete},
      {"revisions",
       "revisions vla/ID",
       "Every stored revision of a VLA.",
       "",
       {},
       true,
       RunRevisions},
  };
}

}  // namespace vla::vlactl
