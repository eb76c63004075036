// ingest -f FILE: JSON Lines of observations and work item events.
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/lib/ingester.h"
#include "clients/vlactl/cli.h"
#include "clients/vlactl/progress.h"
#include "clients/vlactl/records.h"

namespace vla::vlactl {
namespace {

struct Rejected {
  int64_t line;
  std::string reason;
};

int RunIngest(Context& ctx) {
  const std::string path = ctx.Get("filename");
  if (path.empty())
    return ctx.Usage("ingest: -f FILE is required (- for stdin)");
  if (!ctx.args().empty()) {
    return ctx.Usage(absl::StrCat("ingest: unexpected argument \"",
                                  ctx.args()[0], "\" (use -f)"));
  }
  client::IngestOptions options;
  if (ctx.Has("batch-size")) {
    if (!absl::SimpleAtoi(ctx.Get("batch-size"), &options.batch_size) ||
        options.batch_size < 1) {
      return ctx.Usage("ingest: --batch-size must be a positive number");
    }
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) {
      return ctx.Fail(absl::NotFoundError(
          absl::StrCat(path, ": no such file or not readable")));
    }
    in = &file;
  }
  ProgressLine progress(ctx.err());
  client::Ingester ingester(ctx.channel(), ctx.options(), options);
  std::vector<int64_t> line_of_record;  // by record index
  std::vector<Rejected> rejected;       // lines that did not parse
  std::string text;
  int64_t line = 0;
  while (std::getline(*in, text)) {
    ++line;
    auto record = ParseRecordLine(text);
    if (!record.ok()) {
      rejected.push_back({line, std::string(record.status().message())});
      continue;
    }
    absl::Status s;
    if (auto* o = std::get_if<v1::Observation>(&*record)) {
      s = ingester.Add(std::move(*o));
    } else if (auto* e = std::get_if<v1::WorkItemEvent>(&*record)) {
      s = ingester.Add(std::move(*e));
    } else {
      continue;
    }
    if (!s.ok()) return ctx.Fail(s);
    line_of_record.push_back(line);
    progress.Update([&](double secs) {
      return absl::StrCat("ingest: ", line, " lines read, ",
                          line_of_record.size(), " records sent (",
                          Number(line_of_record.size() / secs, 0), "/s)");
    });
  }
  auto totals = ingester.Finish();
  progress.Finish();
  if (!totals.ok()) return ctx.Fail(totals.status());
  for (const client::IngestRejection& r : totals->rejected) {
    rejected.push_back(
        {r.record_index < static_cast<int64_t>(line_of_record.size())
             ? line_of_record[r.record_index]
             : -1,
         r.reason});
  }
  std::sort(
      rejected.begin(), rejected.end(),
      [](const Rejected& a, const Rejected& b) { return a.line < b.line; });
  if (ctx.format() != Format::kTable) {
    nlohmann::json report = {{"lines", line},
                             {"accepted", totals->accepted},
                             {"duplicates", totals->duplicates},
                             {"rejected", nlohmann::json::array()}};
    for (const Rejected& r : rejected) {
      report["rejected"].push_back({{"line", r.line}, {"reason", r.reason}});
    }
    PrintDocuments(ctx.out(), ctx.format(), {JsonDump(report)}, false);
  } else {
    ctx.out() << path << ": " << line << " lines, accepted " << totals->accepted
              << ", duplicates " << totals->duplicates << ", rejected "
              << rejected.size() << " (" << Number(progress.Seconds(), 1)
              << "s)\n";
    for (const Rejected& r : rejected) {
      ctx.out() << "  line " << r.line << ": " << r.reason << "\n";
    }
  }
  return rejected.empty() ? client::kExitOk : client::kExitRejected;
}

}  // namespace

std::vector<Command> IngestCommands() {
  return {
      {"ingest",
       "ingest -f FILE [--batch-size N]",
       "Send observations and work item events from a JSON Lines file.",
       "One record per line, as proto JSON under the key naming its type:\n"
       "  {\"observation\": {\"event_id\": \"o-1\", \"signal\": \"happiness\", "
       "\"value\": 9,\n"
       "   \"time\": \"2026-11-02T10:00:00Z\", \"value_stream\": "
       "\"valueStreams/incident-to-back-to-work\",\n"
       "   \"reporter\": \"teams/claims-operations\"}}\n"
       "  {\"work_item_event\": {\"event_id\": \"e-1\", \"item_id\": "
       "\"INC001\", \"kind\": \"RESOLVED\", ...}}\n"
       "Blank lines and lines starting with # are skipped. Records are "
       "streamed in\nbatches; a batch is resent after a reconnect (the "
       "server drops duplicates by\nevent_id, so re-ingesting a file adds "
       "nothing). Prints a summary of accepted,\nduplicate and rejected "
       "records with each rejection's line; exit code 7 when\nany record was "
       "rejected.\n",
       {{"filename", 'f', "FILE", "the JSON Lines file (- for stdin)"},
        {"batch-size", 0, "N", "records per batch (default 500)"}},
       true,
       RunIngest},
  };
}

}  // namespace vla::vlactl
