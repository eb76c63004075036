#include "clients/bot/bot.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "clients/bot/webhook.h"
#include "clients/lib/report.h"
#include "clients/lib/watch.h"
#include "common/log.h"
#include "common/status_util.h"

namespace vla::bot {
namespace {

std::string Describe(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

}  // namespace

GovernanceBot::GovernanceBot(std::shared_ptr<grpc::Channel> channel,
                             client::ConnectionOptions connection,
                             BotOptions options)
    : okr_(v1::OkrStatusService::NewStub(channel)),
      evaluation_(v1::EvaluationService::NewStub(channel)),
      connection_(std::move(connection)),
      options_(std::move(options)) {}

absl::Status GovernanceBot::Run() {
  std::thread objectives([this] { WatchObjectives(); });
  WatchVlas();
  objectives.join();
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

bool GovernanceBot::Recoverable(absl::string_view stream,
                                const grpc::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return false;
  }
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNIMPLEMENTED:
      break;
    default:
      Log(LogLevel::kInfo, "stream ended; reconnecting",
          {{"stream", std::string(stream)}, {"status", Describe(status)}});
      return true;
  }
  const absl::Status s = FromGrpcStatus(status);
  Log(LogLevel::kError, "stream failed",
      {{"stream", std::string(stream)}, {"error", s.ToString()}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fatal_.ok()) {
      fatal_ = absl::Status(s.code(), absl::StrCat(stream, ": ", s.message()));
    }
  }
  Stop();
  return false;
}

void GovernanceBot::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  for (grpc::ClientContext* ctx : contexts_) ctx->TryCancel();
  cv_.notify_all();
}

bool GovernanceBot::Attach(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return false;
  contexts_.push_back(ctx);
  return true;
}

void GovernanceBot::Detach(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  contexts_.erase(std::remove(contexts_.begin(), contexts_.end(), ctx),
                  contexts_.end());
}

bool GovernanceBot::Backoff(int n) {
  absl::BitGen gen;
  const absl::Duration wait = client::BackoffDelay(options_.reconnect, n, gen);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoNanoseconds(wait), [&] { return stopped_; });
  return !stopped_;
}

void GovernanceBot::Report(const std::string& message) {
  std::lock_guard<std::mutex> lock(out_mu_);
  std::fprintf(stdout, "%s\n", message.c_str());
  std::fflush(stdout);
  if (options_.webhook_url.empty()) return;
  absl::Status s;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    s = PostWebhook(options_.webhook_url, message);
    if (s.ok()) return;
    absl::SleepFor(absl::Milliseconds(200 * attempt));
  }
  Log(LogLevel::kWarning, "webhook failed", {{"error", s.ToString()}});
}

std::string GovernanceBot::LoadResumeToken() {
  if (options_.state_file.empty()) return "";
  std::ifstream in(options_.state_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(ss.str()));
}

void GovernanceBot::SaveResumeToken(const std::string& token) {
  if (options_.state_file.empty() || token.empty()) return;
  const std::string tmp = absl::StrCat(options_.state_file, ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << token << "\n";
    if (!out) {
      Log(LogLevel::kWarning, "cannot write state file",
          {{"state_file", options_.state_file}});
      return;
    }
  }
  if (std::rename(tmp.c_str(), options_.state_file.c_str()) != 0) {
    Log(LogLevel::kWarning, "cannot write state file",
        {{"state_file", options_.state_file}});
  }
}

void GovernanceBot::WatchObjectives() {
  std::string token = LoadResumeToken();
  std::string saved = token;
  bool baseline_done = false;  // the first snapshot of this process is
  for (int failures = 0;;) {
    auto ctx = client::MakeContext(connection_, absl::InfiniteDuration());
    if (!Attach(ctx.get())) return;
    v1::WatchObjectiveStatusesRequest req;
    req.set_filter(options_.objective_filter);
    req.set_resume_token(token);
    auto reader =
        client::WatchEvents(okr_->WatchObjectiveStatuses(ctx.get(), req));
    v1::ObjectiveStatusEvent event;
    while (reader.Read(&event)) {
      failures = 0;
      if (event.snapshot_complete()) {
        Log(LogLevel::kInfo, "watching",
            {{"stream", "objectives"}, {"filter", options_.objective_filter}});
        baseline_done = true;
      } else if (event.has_status()) {
        std::vector<std::string> messages;
        {
          std::lock_guard<std::mutex> lock(tracker_mu_);
          messages = tracker_.OnObjective(event.status(),
                                          !event.snapshot() || baseline_done);
        }
        for (const std::string& m : messages) Report(m);
        if (!event.snapshot()) baseline_done = true;
      }
      if (!event.resume_token().empty()) token = event.resume_token();
      // Saved once per message: resuming after its last event is safe.
      if (reader.end_of_message() && token != saved) {
        SaveResumeToken(token);
        saved = token;
      }
    }
    const grpc::Status status = reader.Finish();
    Detach(ctx.get());
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
        !token.empty() &&
        status.error_message().find("resume_token") != std::string::npos) {
      Log(LogLevel::kWarning, "resume token refused; starting afresh",
          {{"error", status.error_message()}});
      token.clear();
      continue;
    }
    if (!Recoverable("objectives", status)) return;
    if (!Backoff(++failures)) return;
  }
}

void GovernanceBot::WatchVlas() {
  bool baseline_done = false;
  for (int failures = 0;;) {
    auto ctx = client::MakeContext(connection_, absl::InfiniteDuration());
    if (!Attach(ctx.get())) return;
    v1::WatchVlaStatusesRequest req;
    req.set_filter(options_.vla_filter);
    auto reader =
        client::WatchEvents(evaluation_->WatchVlaStatuses(ctx.get(), req));
    v1::VlaStatusEvent event;
    std::vector<v1::VlaStatus> snapshot;
    bool in_snapshot = true;
    while (reader.Read(&event)) {
      failures = 0;
      std::vector<std::string> messages;
      if (event.snapshot_complete()) {
        {
          std::lock_guard<std::mutex> lock(tracker_mu_);
          messages = tracker_.OnVlaSnapshot(snapshot, baseline_done);
        }
        Log(LogLevel::kInfo, "watching",
            {{"stream", "vlas"}, {"filter", options_.vla_filter}});
        baseline_done = true;
        in_snapshot = false;
        snapshot.clear();
      } else if (in_snapshot && event.snapshot()) {
        snapshot.push_back(event.status());
      } else if (event.removed()) {
        std::lock_guard<std::mutex> lock(tracker_mu_);
        tracker_.RemoveVla(event.status().vla());
      } else if (event.has_status()) {
        std::lock_guard<std::mutex> lock(tracker_mu_);
        messages = tracker_.OnVla(event.status(), true);
      }
      for (const std::string& m : messages) Report(m);
    }
    const grpc::Status status = reader.Finish();
    Detach(ctx.get());
    if (!Recoverable("vlas", status)) return;
    if (!Backoff(++failures)) return;
  }
}

absl::StatusOr<std::vector<std::string>> GovernanceBot::RedListNow() {
  client::RetryPolicy retry;
  retry.max_attempts = 3;
  std::vector<v1::ObjectiveStatus> objectives;
  v1::ListObjectiveStatusesRequest oreq;
  oreq.set_filter(options_.objective_filter);
  oreq.set_page_size(1000);
  do {
    v1::ListObjectiveStatusesResponse resp;
    const grpc::Status s = client::CallWithRetry(
        connection_, retry, [&](grpc::ClientContext* ctx) {
          return okr_->ListObjectiveStatuses(ctx, oreq, &resp);
        });
    if (!s.ok()) return FromGrpcStatus(s);
    objectives.insert(objectives.end(), resp.statuses().begin(),
                      resp.statuses().end());
    oreq.set_page_token(resp.next_page_token());
  } while (!oreq.page_token().empty());
  VLA_ASSIGN_OR_RETURN(const std::vector<v1::VlaStatus> vlas, ListVlas(retry));
  return RedList(objectives, vlas);
}

absl::StatusOr<std::vector<v1::VlaStatus>> GovernanceBot::ListVlas(
    const client::RetryPolicy& retry) {
  std::vector<v1::VlaStatus> vlas;
  v1::ListVlaStatusesRequest vreq;
  vreq.set_filter(options_.vla_filter);
  vreq.set_page_size(1000);
  do {
    v1::ListVlaStatusesResponse resp;
    const grpc::Status s = client::CallWithRetry(
        connection_, retry, [&](grpc::ClientContext* ctx) {
          return evaluation_->ListVlaStatuses(ctx, vreq, &resp);
        });
    if (!s.ok()) return FromGrpcStatus(s);
    vlas.insert(vlas.end(), resp.statuses().begin(), resp.statuses().end());
    vreq.set_page_token(resp.next_page_token());
  } while (!vreq.page_token().empty());
  return vlas;
}

absl::StatusOr<std::string> GovernanceBot::PeriodReportsNow(
    v1::CalendarPeriod period) {
  client::RetryPolicy retry;
  retry.max_attempts = 3;
  VLA_ASSIGN_OR_RETURN(const std::vector<v1::VlaStatus> vlas, ListVlas(retry));
  std::string out;
  for (const v1::VlaStatus& vla : vlas) {
    v1::GetVlaReportRequest req;
    req.set_vla(vla.vla());
    req.set_period(period);
    v1::VlaReport report;
    const grpc::Status s = client::CallWithRetry(
        connection_, retry, [&](grpc::ClientContext* ctx) {
          return evaluation_->GetVlaReport(ctx, req, &report);
        });
    if (!s.ok()) return FromGrpcStatus(s);
    absl::StrAppend(&out, out.empty() ? "" : "\n",
                    client::ReportMarkdown(report));
  }
  return out;
}

}  // namespace vla::bot
