// VmdbService through its gRPC API, on a real server on a loopback port,
// over SQLite and over PostgreSQL.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "clients/lib/watch.h"
#include "services/vmdb/change_follower.h"
#include "tests/fixtures.h"
#include "tests/test_server.h"

namespace vla {
namespace {

using ::grpc::StatusCode;
using testing::Ctx;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::IsCode;
using testing::IsCodeWith;
using testing::MakeKvi;
using testing::MakeObjective;
using testing::MakeTeam;
using testing::MakeValueStream;
using testing::MakeVla;
using testing::TestServer;

class VmdbServiceTest : public ::testing::TestWithParam<testing::Db> {
 protected:
  void SetUp() override {
    CreateTeam("business", v1::TEAM_KIND_CONSUMER);
    CreateTeam("service-desk", v1::TEAM_KIND_PROVIDER);
    CreateTeam("network", v1::TEAM_KIND_PROVIDER);
    CreateValueStream("incident", MakeValueStream());
    CreateKvi("lead-time", MakeKvi());
  }

  v1::VmdbService::Stub& vmdb() { return server_.vmdb(); }

  v1::Team CreateTeam(const std::string& id, v1::TeamKind kind) {
    v1::CreateTeamRequest req;
    req.set_team_id(id);
    *req.mutable_team() = MakeTeam(kind);
    v1::Team out;
    EXPECT_TRUE(vmdb().CreateTeam(Ctx().get(), req, &out).ok());
    return out;
  }
  void CreateValueStream(const std::string& id, const v1::ValueStream& vs) {
    v1::CreateValueStreamRequest req;
    req.set_value_stream_id(id);
    *req.mutable_value_stream() = vs;
    v1::ValueStream out;
    const grpc::Status s = vmdb().CreateValueStream(Ctx().get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  grpc::Status CreateKvi(const std::string& id, const v1::Kvi& kvi,
                         v1::Kvi* out = nullptr) {
    v1::CreateKviRequest req;
    req.set_kvi_id(id);
    *req.mutable_kvi() = kvi;
    v1::Kvi tmp;
    return vmdb().CreateKvi(Ctx().get(), req, out ? out : &tmp);
  }
  grpc::Status CreateVla(const std::string& id, const v1::Vla& vla,
                         v1::Vla* out = nullptr,
                         const std::string& request_id = "") {
    v1::CreateVlaRequest req;
    req.set_vla_id(id);
    *req.mutable_vla() = vla;
    req.set_request_id(request_id);
    v1::Vla tmp;
    return vmdb().CreateVla(Ctx().get(), req, out ? out : &tmp);
  }
  grpc::Status UpdateVla(const v1::Vla& vla, std::vector<std::string> paths,
                         v1::Vla* out) {
    v1::UpdateVlaRequest req;
    *req.mutable_vla() = vla;
    for (auto& p : paths) req.mutable_update_mask()->add_paths(p);
    return vmdb().UpdateVla(Ctx().get(), req, out);
  }

  TestServer server_{ServerOptions(), GetParam()};
};

INSTANTIATE_TEST_SUITE_P(Engines, VmdbServiceTest, testing::AllDbs(),
                         testing::DbName);

TEST_P(VmdbServiceTest, CreateSetsOutputFields) {
  v1::Kvi in = MakeKvi();
  in.set_name("kvis/ignored");
  in.set_revision(77);
  v1::Kvi out;
  VLA_ASSERT_OK(CreateKvi("happiness", in, &out));
  EXPECT_EQ(out.name(), "kvis/happiness");
  EXPECT_EQ(out.revision(), 1);
  EXPECT_FALSE(out.etag().empty());
  EXPECT_GT(out.create_time().seconds(), 0);
  EXPECT_EQ(out.create_time().SerializeAsString(),
            out.update_time().SerializeAsString());
  EXPECT_EQ(out.percentile(), 90);

  v1::GetKviRequest get;
  get.set_name("kvis/happiness");
  v1::Kvi got;
  VLA_ASSERT_OK(vmdb().GetKvi(Ctx().get(), get, &got));
  EXPECT_EQ(got.SerializeAsString(), out.SerializeAsString());
}

TEST_P(VmdbServiceTest, CreateErrors) {
  EXPECT_THAT(
      CreateKvi("lead-time", MakeKvi()),
      IsCodeWith(StatusCode::ALREADY_EXISTS, "kvis/lead-time already exists"));
  EXPECT_THAT(CreateKvi("Bad_Id", MakeKvi()),
              IsCodeWith(StatusCode::INVALID_ARGUMENT,
                         "kvi_id: \"Bad_Id\" must match"));
  EXPECT_THAT(CreateKvi("", MakeKvi()),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "kvi_id: required"));
  EXPECT_THAT(
      CreateKvi("x", MakeKvi("valueStreams/missing")),
      IsCodeWith(StatusCode::INVALID_ARGUMENT,
                 "kvi.value_stream: valueStreams/missing does not exist"));
  v1::Kvi bad = MakeKvi();
  bad.set_percentile(0);
  EXPECT_THAT(CreateKvi("x", bad),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "kvi.percentile"));
  // A VLA cannot name a missing KVI.
  EXPECT_THAT(CreateVla("v", MakeVla({"kvis/lead-time", "kvis/missing"})),
              IsCodeWith(StatusCode::INVALID_ARGUMENT,
                         "vla.clauses[1].kvi: kvis/missing does not exist"));
  // Warning on the good side of target, given the KVI's direction.
  v1::Vla wrong_side = MakeVla();
  wrong_side.mutable_clauses(0)->set_warning(3 * 86400);
  EXPECT_THAT(
      CreateVla("v", wrong_side),
      IsCodeWith(StatusCode::INVALID_ARGUMENT, "vla.clauses[0].warning"));
  // Nothing of the refused requests was stored.
  v1::ListKvisResponse kvis;
  VLA_ASSERT_OK(vmdb().ListKvis(Ctx().get(), v1::ListKvisRequest(), &kvis));
  EXPECT_EQ(kvis.kvis_size(), 1);
  v1::ListVlasResponse vlas;
  VLA_ASSERT_OK(vmdb().ListVlas(Ctx().get(), v1::ListVlasRequest(), &vlas));
  EXPECT_EQ(vlas.vlas_size(), 0);
}

TEST_P(VmdbServiceTest, RequestIdReturnsTheFirstResult) {
  v1::Vla first, second;
  VLA_ASSERT_OK(CreateVla("v1", MakeVla(), &first, "req-123"));
  // A retry with the same request id, even with another id, returns the
  // first result and creates nothing.
  VLA_ASSERT_OK(CreateVla("v2", MakeVla(), &second, "req-123"));
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  v1::GetVlaRequest get;
  get.set_name("vlas/v2");
  v1::Vla got;
  EXPECT_THAT(vmdb().GetVla(Ctx().get(), get, &got),
              IsCode(StatusCode::NOT_FOUND));
  // After a restart too.
  server_.Restart();
  VLA_ASSERT_OK(CreateVla("v1", MakeVla(), &second, "req-123"));
  EXPECT_EQ(first.SerializeAsString(), second.SerializeAsString());
  EXPECT_THAT(CreateVla("v1", MakeVla(), &second, "req-456"),
              IsCode(StatusCode::ALREADY_EXISTS));
  EXPECT_THAT(CreateVla("v3", MakeVla(), &second, std::string(129, 'r')),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "request_id"));
}

TEST_P(VmdbServiceTest, ConcurrentRetriesCreateOnce) {
  std::vector<std::thread> threads;
  std::vector<grpc::Status> results(8);
  std::vector<v1::Vla> outs(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = CreateVla("v", MakeVla(), &outs[i], "req-x"); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    VLA_EXPECT_OK(results[i]);
    EXPECT_EQ(outs[i].etag(), outs[0].etag());
  }
  v1::ListVlaRevisionsRequest req;
  req.set_name("vlas/v");
  v1::ListVlaRevisionsResponse revs;
  VLA_ASSERT_OK(vmdb().ListVlaRevisions(Ctx().get(), req, &revs));
  EXPECT_EQ(revs.revisions_size(), 1);
}

TEST_P(VmdbServiceTest, GetErrors) {
  v1::GetTeamRequest req;
  v1::Team team;
  req.set_name("teams/nobody");
  EXPECT_THAT(vmdb().GetTeam(Ctx().get(), req, &team),
              IsCodeWith(StatusCode::NOT_FOUND, "teams/nobody not found"));
  req.set_name("kvis/lead-time");
  EXPECT_THAT(vmdb().GetTeam(Ctx().get(), req, &team),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "name:"));
  req.set_name("");
  EXPECT_THAT(vmdb().GetTeam(Ctx().get(), req, &team),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "name: required"));
}

TEST_P(VmdbServiceTest, UpdateWithMaskEtagAndRevisions) {
  v1::Vla created;
  VLA_ASSERT_OK(CreateVla("v", MakeVla(), &created));

  v1::Vla patch;
  patch.set_name("vlas/v");
  patch.set_display_name("Renamed");
  patch.set_pass_score(95);  // not in the mask: must be ignored
  v1::Vla updated;
  VLA_ASSERT_OK(UpdateVla(patch, {"display_name"}, &updated));
  EXPECT_EQ(updated.display_name(), "Renamed");
  EXPECT_EQ(updated.pass_score(), 0);
  EXPECT_EQ(updated.revision(), 2);
  EXPECT_NE(updated.etag(), created.etag());
  EXPECT_EQ(updated.create_time().SerializeAsString(),
            created.create_time().SerializeAsString());
  EXPECT_EQ(updated.clauses_size(), 1);

  // A stale etag is ABORTED and changes nothing.
  v1::Vla stale = updated;
  stale.set_etag(created.etag());
  stale.set_display_name("Lost update");
  v1::Vla out;
  EXPECT_THAT(UpdateVla(stale, {"display_name"}, &out),
              IsCodeWith(StatusCode::ABORTED, "etag"));
  // The current etag works; an empty mask replaces every writable field.
  v1::Vla full = updated;
  full.set_display_name("Full");
  full.mutable_clauses(0)->set_target(4 * 86400);
  full.set_state(v1::VLA_STATE_RETIRED);
  VLA_ASSERT_OK(UpdateVla(full, {}, &out));
  EXPECT_EQ(out.display_name(), "Full");
  EXPECT_EQ(out.clauses(0).target(), 4 * 86400);
  EXPECT_EQ(out.state(), v1::VLA_STATE_RETIRED);
  EXPECT_EQ(out.revision(), 3);

  // An update that changes nothing makes no new revision.
  v1::Vla same;
  VLA_ASSERT_OK(UpdateVla(out, {}, &same));
  EXPECT_EQ(same.revision(), 3);
  EXPECT_EQ(same.etag(), out.etag());

  v1::ListVlaRevisionsRequest req;
  req.set_name("vlas/v");
  v1::ListVlaRevisionsResponse revs;
  VLA_ASSERT_OK(vmdb().ListVlaRevisions(Ctx().get(), req, &revs));
  ASSERT_EQ(revs.revisions_size(), 3);
  EXPECT_EQ(revs.revisions(0).display_name(), "Incident VLA");
  EXPECT_EQ(revs.revisions(1).display_name(), "Renamed");
  EXPECT_EQ(revs.revisions(2).display_name(), "Full");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(revs.revisions(i).revision(), i + 1);
}

TEST_P(VmdbServiceTest, UpdateErrors) {
  v1::Vla created, out;
  VLA_ASSERT_OK(CreateVla("v", MakeVla(), &created));
  v1::Vla patch = created;
  EXPECT_THAT(
      UpdateVla(patch, {"no_such_field"}, &out),
      IsCodeWith(StatusCode::INVALID_ARGUMENT,
                 "update_mask: \"no_such_field\" is not a field of Vla"));
  EXPECT_THAT(UpdateVla(patch, {"create_time"}, &out),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "output only"));
  patch.clear_clauses();
  EXPECT_THAT(
      UpdateVla(patch, {"clauses"}, &out),
      IsCodeWith(StatusCode::INVALID_ARGUMENT, "vla.clauses: at least 1"));
  patch = created;
  patch.set_consumer("teams/ghost");
  EXPECT_THAT(UpdateVla(patch, {"consumer"}, &out),
              IsCodeWith(StatusCode::INVALID_ARGUMENT,
                         "vla.consumer: teams/ghost does not exist"));
  patch.set_name("vlas/ghost");
  EXPECT_THAT(UpdateVla(patch, {"display_name"}, &out),
              IsCodeWith(StatusCode::NOT_FOUND, "vlas/ghost not found"));
  patch.set_name("ghost");
  EXPECT_THAT(UpdateVla(patch, {"display_name"}, &out),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "vla.name"));
  // Still the original.
  v1::GetVlaRequest get;
  get.set_name("vlas/v");
  VLA_ASSERT_OK(vmdb().GetVla(Ctx().get(), get, &out));
  EXPECT_EQ(out.SerializeAsString(), created.SerializeAsString());
}

TEST_P(VmdbServiceTest, UpdateNestedPath) {
  v1::Kvi patch;
  patch.set_name("kvis/lead-time");
  patch.mutable_window()->mutable_rolling()->set_seconds(7 * 86400);
  v1::UpdateKviRequest req;
  *req.mutable_kvi() = patch;
  req.mutable_update_mask()->add_paths("window.rolling");
  v1::Kvi out;
  VLA_ASSERT_OK(vmdb().UpdateKvi(Ctx().get(), req, &out));
  EXPECT_EQ(out.window().rolling().seconds(), 7 * 86400);
  EXPECT_EQ(out.percentile(), 90);
}

TEST_P(VmdbServiceTest, DeleteWithReferentialIntegrity) {
  VLA_ASSERT_OK(CreateVla("v", MakeVla()));
  v1::DeleteKviRequest del;
  del.set_name("kvis/lead-time");
  google::protobuf::Empty empty;
  EXPECT_THAT(
      vmdb().DeleteKvi(Ctx().get(), del, &empty),
      IsCodeWith(
          StatusCode::FAILED_PRECONDITION,
          "kvis/lead-time is still used by vlas/v (vla.clauses[0].kvi)"));
  // Objectives count as users too.
  v1::CreateObjectiveRequest obj;
  obj.set_objective_id("faster");
  *obj.mutable_objective() = MakeObjective();
  obj.mutable_objective()->add_vlas("vlas/v");
  v1::Objective objective;
  VLA_ASSERT_OK(vmdb().CreateObjective(Ctx().get(), obj, &objective));
  v1::DeleteVlaRequest del_vla;
  del_vla.set_name("vlas/v");
  EXPECT_THAT(vmdb().DeleteVla(Ctx().get(), del_vla, &empty),
              IsCodeWith(StatusCode::FAILED_PRECONDITION, "objectives/faster"));
  v1::DeleteTeamRequest del_team;
  del_team.set_name("teams/business");
  EXPECT_THAT(
      vmdb().DeleteTeam(Ctx().get(), del_team, &empty),
      IsCodeWith(StatusCode::FAILED_PRECONDITION, "valueStreams/incident"));

  // Remove the users, then the KVI goes; a stale etag is ABORTED first.
  v1::DeleteObjectiveRequest del_obj;
  del_obj.set_name("objectives/faster");
  del_obj.set_etag("stale");
  EXPECT_THAT(vmdb().DeleteObjective(Ctx().get(), del_obj, &empty),
              IsCode(StatusCode::ABORTED));
  del_obj.set_etag(objective.etag());
  VLA_ASSERT_OK(vmdb().DeleteObjective(Ctx().get(), del_obj, &empty));
  VLA_ASSERT_OK(vmdb().DeleteVla(Ctx().get(), del_vla, &empty));
  VLA_ASSERT_OK(vmdb().DeleteKvi(Ctx().get(), del, &empty));
  EXPECT_THAT(vmdb().DeleteKvi(Ctx().get(), del, &empty),
              IsCodeWith(StatusCode::NOT_FOUND, "kvis/lead-time not found"));
  del.set_name("lead-time");
  EXPECT_THAT(vmdb().DeleteKvi(Ctx().get(), del, &empty),
              IsCode(StatusCode::INVALID_ARGUMENT));
  // Revisions of a deleted VLA stay readable (audit trail).
  v1::ListVlaRevisionsRequest revs_req;
  revs_req.set_name("vlas/v");
  v1::ListVlaRevisionsResponse revs;
  VLA_ASSERT_OK(vmdb().ListVlaRevisions(Ctx().get(), revs_req, &revs));
  EXPECT_EQ(revs.revisions_size(), 1);
  revs_req.set_name("vlas/never");
  EXPECT_THAT(vmdb().ListVlaRevisions(Ctx().get(), revs_req, &revs),
              IsCode(StatusCode::NOT_FOUND));
}

TEST_P(VmdbServiceTest, PaginationWalkFindsEachOfAThousandOnce) {
  constexpr int kCount = 1000;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([this, w] {
      for (int i = w; i < kCount; i += 4) {
        v1::CreateTeamRequest req;
        req.set_team_id(absl::StrFormat("t-%04d", i));
        *req.mutable_team() = MakeTeam(i % 3 == 0 ? v1::TEAM_KIND_SUPPLIER
                                                  : v1::TEAM_KIND_PROVIDER);
        v1::Team out;
        VLA_EXPECT_OK(vmdb().CreateTeam(Ctx().get(), req, &out));
      }
    });
  }
  for (auto& t : writers) t.join();

  for (int page_size : {7, 100, 1000, 5000}) {
    std::set<std::string> seen;
    std::string token;
    int pages = 0;
    do {
      v1::ListTeamsRequest req;
      req.set_page_size(page_size);
      req.set_page_token(token);
      v1::ListTeamsResponse resp;
      VLA_ASSERT_OK(vmdb().ListTeams(Ctx().get(), req, &resp));
      EXPECT_LE(resp.teams_size(), std::min(page_size, 1000));
      for (const auto& t : resp.teams()) {
        EXPECT_TRUE(seen.insert(t.name()).second) << "twice: " << t.name();
      }
      token = resp.next_page_token();
      ++pages;
    } while (!token.empty());
    EXPECT_EQ(seen.size(), kCount + 3u) << "page_size " << page_size;
    EXPECT_EQ(pages, (kCount + 3 + std::min(page_size, 1000) - 1) /
                         std::min(page_size, 1000));
  }

  // With a filter: exactly the suppliers, each once.
  std::set<std::string> suppliers;
  std::string token;
  do {
    v1::ListTeamsRequest req;
    req.set_page_size(50);
    req.set_filter("kind = SUPPLIER");
    req.set_page_token(token);
    v1::ListTeamsResponse resp;
    VLA_ASSERT_OK(vmdb().ListTeams(Ctx().get(), req, &resp));
    for (const auto& t : resp.teams()) {
      EXPECT_EQ(t.kind(), v1::TEAM_KIND_SUPPLIER);
      EXPECT_TRUE(suppliers.insert(t.name()).second);
    }
    token = resp.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(suppliers.size(), 334u);
}

TEST_P(VmdbServiceTest, ListErrors) {
  v1::ListTeamsRequest req;
  req.set_page_size(2);
  v1::ListTeamsResponse resp;
  VLA_ASSERT_OK(vmdb().ListTeams(Ctx().get(), req, &resp));
  ASSERT_FALSE(resp.next_page_token().empty());

  v1::ListTeamsRequest tampered = req;
  std::string token = resp.next_page_token();
  token[token.size() / 2] = token[token.size() / 2] == 'x' ? 'y' : 'x';
  tampered.set_page_token(token);
  EXPECT_THAT(vmdb().ListTeams(Ctx().get(), tampered, &resp),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "page_token"));

  v1::ListTeamsRequest other_filter = req;
  other_filter.set_page_token(resp.next_page_token());
  other_filter.set_filter("kind = PROVIDER");
  VLA_ASSERT_OK(vmdb().ListTeams(Ctx().get(), req, &resp));
  other_filter.set_page_token(resp.next_page_token());
  EXPECT_THAT(
      vmdb().ListTeams(Ctx().get(), other_filter, &resp),
      IsCodeWith(StatusCode::INVALID_ARGUMENT, "different method or filter"));

  v1::ListTeamsRequest bad_filter;
  bad_filter.set_filter("colour = RED");
  EXPECT_THAT(
      vmdb().ListTeams(Ctx().get(), bad_filter, &resp),
      IsCodeWith(StatusCode::INVALID_ARGUMENT, "unknown field \"colour\""));
  v1::ListTeamsRequest negative;
  negative.set_page_size(-1);
  EXPECT_THAT(vmdb().ListTeams(Ctx().get(), negative, &resp),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "page_size"));
}

TEST_P(VmdbServiceTest, ListFilters) {
  CreateTeam("vendor", v1::TEAM_KIND_SUPPLIER);
  v1::ValueStream change = MakeValueStream("teams/business", {"teams/network"});
  CreateValueStream("change", change);
  v1::Kvi kvi = MakeKvi("valueStreams/change");
  VLA_ASSERT_OK(CreateKvi("change-lead-time", kvi));
  VLA_ASSERT_OK(CreateVla("incident-vla", MakeVla()));
  v1::Vla draft = MakeVla({"kvis/change-lead-time"}, "valueStreams/change");
  draft.set_state(v1::VLA_STATE_DRAFT);
  draft.clear_providers();
  draft.add_providers("teams/network");
  VLA_ASSERT_OK(CreateVla("change-vla", draft));

  auto vla_names = [&](const std::string& filter) {
    v1::ListVlasRequest req;
    req.set_filter(filter);
    v1::ListVlasResponse resp;
    const grpc::Status s = vmdb().ListVlas(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << filter << ": " << s.error_message();
    std::vector<std::string> names;
    for (const auto& v : resp.vlas()) names.push_back(v.name());
    return names;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(vla_names(""), (V{"vlas/change-vla", "vlas/incident-vla"}));
  EXPECT_EQ(vla_names("value_stream = \"valueStreams/incident\""),
            V{"vlas/incident-vla"});
  EXPECT_EQ(vla_names("team = \"teams/network\""), V{"vlas/change-vla"});
  EXPECT_EQ(vla_names("team = \"teams/business\""),
            (V{"vlas/change-vla", "vlas/incident-vla"}));
  EXPECT_EQ(vla_names("state = ACTIVE"), V{"vlas/incident-vla"});
  EXPECT_EQ(vla_names("state = VLA_STATE_DRAFT AND team = \"teams/network\""),
            V{"vlas/change-vla"});
  EXPECT_EQ(vla_names("state = DRAFT AND team = \"teams/service-desk\""), V{});

  v1::ListKvisRequest kreq;
  kreq.set_filter("value_stream = \"valueStreams/change\"");
  v1::ListKvisResponse kresp;
  VLA_ASSERT_OK(vmdb().ListKvis(Ctx().get(), kreq, &kresp));
  ASSERT_EQ(kresp.kvis_size(), 1);
  EXPECT_EQ(kresp.kvis(0).name(), "kvis/change-lead-time");

  v1::ListValueStreamsRequest vreq;
  vreq.set_filter("team = \"teams/network\"");
  v1::ListValueStreamsResponse vresp;
  VLA_ASSERT_OK(vmdb().ListValueStreams(Ctx().get(), vreq, &vresp));
  ASSERT_EQ(vresp.value_streams_size(), 1);
  EXPECT_EQ(vresp.value_streams(0).name(), "valueStreams/change");

  v1::ListTeamsRequest treq;
  treq.set_filter("kind = SUPPLIER");
  v1::ListTeamsResponse tresp;
  VLA_ASSERT_OK(vmdb().ListTeams(Ctx().get(), treq, &tresp));
  ASSERT_EQ(tresp.teams_size(), 1);
  EXPECT_EQ(tresp.teams(0).name(), "teams/vendor");

  v1::CreateObjectiveRequest oreq;
  oreq.set_objective_id("faster");
  *oreq.mutable_objective() = MakeObjective();
  v1::Objective o;
  VLA_ASSERT_OK(vmdb().CreateObjective(Ctx().get(), oreq, &o));
  v1::ListObjectivesRequest lo;
  lo.set_filter("team = \"teams/business\"");
  v1::ListObjectivesResponse lresp;
  VLA_ASSERT_OK(vmdb().ListObjectives(Ctx().get(), lo, &lresp));
  EXPECT_EQ(lresp.objectives_size(), 1);
  lo.set_filter("team = \"teams/network\"");
  VLA_ASSERT_OK(vmdb().ListObjectives(Ctx().get(), lo, &lresp));
  EXPECT_EQ(lresp.objectives_size(), 0);
}

TEST_P(VmdbServiceTest, EveryKindRoundTrips) {
  v1::GetValueStreamRequest gv;
  gv.set_name("valueStreams/incident");
  v1::ValueStream vs;
  VLA_ASSERT_OK(vmdb().GetValueStream(Ctx().get(), gv, &vs));
  EXPECT_EQ(vs.stages(0).team(), "teams/service-desk");

  v1::UpdateValueStreamRequest uv;
  uv.mutable_value_stream()->set_name("valueStreams/incident");
  uv.mutable_value_stream()->add_providers("teams/service-desk");
  uv.mutable_value_stream()->add_providers("teams/network");
  uv.mutable_update_mask()->add_paths("providers");
  VLA_ASSERT_OK(vmdb().UpdateValueStream(Ctx().get(), uv, &vs));
  EXPECT_EQ(vs.providers_size(), 2);
  EXPECT_EQ(vs.revision(), 2);

  v1::UpdateTeamRequest ut;
  ut.mutable_team()->set_name("teams/network");
  ut.mutable_team()->set_kind(v1::TEAM_KIND_SUPPLIER);
  ut.mutable_update_mask()->add_paths("kind");
  v1::Team team;
  VLA_ASSERT_OK(vmdb().UpdateTeam(Ctx().get(), ut, &team));
  EXPECT_EQ(team.kind(), v1::TEAM_KIND_SUPPLIER);

  v1::CreateObjectiveRequest co;
  co.set_objective_id("o");
  *co.mutable_objective() = MakeObjective();
  v1::Objective o;
  VLA_ASSERT_OK(vmdb().CreateObjective(Ctx().get(), co, &o));
  v1::UpdateObjectiveRequest uo;
  *uo.mutable_objective() = o;
  uo.mutable_objective()->mutable_key_results(1)->set_target_value(90);
  uo.mutable_update_mask()->add_paths("key_results");
  VLA_ASSERT_OK(vmdb().UpdateObjective(Ctx().get(), uo, &o));
  EXPECT_EQ(o.key_results(1).target_value(), 90);
  v1::GetObjectiveRequest go;
  go.set_name("objectives/o");
  v1::Objective got;
  VLA_ASSERT_OK(vmdb().GetObjective(Ctx().get(), go, &got));
  EXPECT_EQ(got.SerializeAsString(), o.SerializeAsString());
  uo.mutable_objective()->clear_etag();
  uo.mutable_objective()->set_lead("teams/network");
  uo.mutable_update_mask()->add_paths("lead");
  EXPECT_THAT(vmdb().UpdateObjective(Ctx().get(), uo, &o),
              IsCode(StatusCode::INVALID_ARGUMENT));

  v1::DeleteValueStreamRequest dv;
  dv.set_name("valueStreams/incident");
  google::protobuf::Empty empty;
  EXPECT_THAT(vmdb().DeleteValueStream(Ctx().get(), dv, &empty),
              IsCodeWith(StatusCode::FAILED_PRECONDITION, "kvis/lead-time"));
}

TEST_P(VmdbServiceTest, WatchChangesReplaysThenStreamsLive) {
  grpc::ClientContext ctx;
  v1::WatchChangesRequest req;
  req.set_since_revision(2);  // skip the first two teams
  auto stream = client::WatchEvents(vmdb().WatchChanges(&ctx, req));
  std::vector<v1::Change> seen;
  v1::Change change;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(stream.Read(&change));
    seen.push_back(change);
  }
  EXPECT_EQ(seen[0].revision(), 3);
  EXPECT_EQ(seen[0].name(), "teams/network");
  EXPECT_EQ(seen[0].kind(), v1::CHANGE_KIND_CREATED);
  EXPECT_EQ(seen[0].team().kind(), v1::TEAM_KIND_PROVIDER);
  EXPECT_EQ(seen[1].name(), "valueStreams/incident");
  EXPECT_TRUE(seen[1].has_value_stream());
  EXPECT_EQ(seen[2].name(), "kvis/lead-time");
  EXPECT_EQ(seen[2].kvi().percentile(), 90);

  // Live: a create, an update and a delete arrive in commit order.
  v1::Vla vla;
  VLA_ASSERT_OK(CreateVla("v", MakeVla(), &vla));
  vla.set_display_name("v2");
  VLA_ASSERT_OK(UpdateVla(vla, {"display_name"}, &vla));
  v1::DeleteVlaRequest del;
  del.set_name("vlas/v");
  google::protobuf::Empty empty;
  VLA_ASSERT_OK(vmdb().DeleteVla(Ctx().get(), del, &empty));
  const std::vector<std::pair<int, v1::ChangeKind>> want = {
      {6, v1::CHANGE_KIND_CREATED},
      {7, v1::CHANGE_KIND_UPDATED},
      {8, v1::CHANGE_KIND_DELETED}};
  for (const auto& [revision, kind] : want) {
    ASSERT_TRUE(stream.Read(&change));
    EXPECT_EQ(change.revision(), revision);
    EXPECT_EQ(change.kind(), kind);
    EXPECT_EQ(change.name(), "vlas/v");
    EXPECT_EQ(change.vla().display_name(),
              revision == 6 ? "Incident VLA" : "v2");
  }
  ctx.TryCancel();
  EXPECT_FALSE(stream.Read(&change));
  EXPECT_THAT(stream.Finish(), IsCode(StatusCode::CANCELLED));
}

TEST_P(VmdbServiceTest, WatchChangesResumesAfterRestart) {
  server_.Restart();
  grpc::ClientContext ctx;
  v1::WatchChangesRequest req;
  req.set_since_revision(4);
  auto stream = client::WatchEvents(vmdb().WatchChanges(&ctx, req));
  v1::Change change;
  ASSERT_TRUE(stream.Read(&change));
  EXPECT_EQ(change.revision(), 5);
  EXPECT_EQ(change.name(), "kvis/lead-time");
  // Server shutdown ends the stream cleanly with UNAVAILABLE (retry later).
  server_.Stop();
  EXPECT_FALSE(stream.Read(&change));
  EXPECT_THAT(stream.Finish(), IsCode(StatusCode::UNAVAILABLE));
}

TEST_P(VmdbServiceTest, WatchChangesRejectsNegativeRevision) {
  grpc::ClientContext ctx;
  v1::WatchChangesRequest req;
  req.set_since_revision(-1);
  auto stream = client::WatchEvents(vmdb().WatchChanges(&ctx, req));
  v1::Change change;
  EXPECT_FALSE(stream.Read(&change));
  EXPECT_THAT(stream.Finish(),
              IsCodeWith(StatusCode::INVALID_ARGUMENT, "since_revision"));
}

// A VMDB alone whose change feed comes in batches of at most 1 KiB.
class VmdbWatchBatchTest : public ::testing::Test {
 protected:
  static ServerOptions Options() {
    ServerOptions options;
    options.services = {"vmdb"};
    options.watch_batch_bytes = 1024;
    return options;
  }
  // Creates team-`i` (one change).
  grpc::Status CreateTeam(int i) {
    v1::CreateTeamRequest req;
    req.set_team_id(absl::StrCat("team-", i));
    *req.mutable_team() = MakeTeam(v1::TEAM_KIND_PROVIDER);
    v1::Team out;
    return server_.vmdb().CreateTeam(Ctx().get(), req, &out);
  }
  TestServer server_{Options()};
};

// The change feed in batches (1 KiB bound): the log replays in several
// messages, in commit order with no gap; a stream resumed after a message's
// last change goes on from there; an idle stream gets a new change alone.
TEST_F(VmdbWatchBatchTest, ChangeFeedComesInOrderedBoundedBatches) {
  for (int i = 1; i <= 30; ++i) VLA_ASSERT_OK(CreateTeam(i));
  auto ctx = std::make_unique<grpc::ClientContext>();
  auto stream =
      server_.vmdb().WatchChanges(ctx.get(), v1::WatchChangesRequest());
  v1::WatchChangesResponse message;
  int64_t revision = 0;
  int64_t first_message_end = 0;
  int messages = 0;
  while (revision < 30 && stream->Read(&message)) {
    ++messages;
    EXPECT_TRUE(message.ByteSizeLong() <= 1024 || message.changes_size() == 1)
        << message.ByteSizeLong();
    for (const v1::Change& c : message.changes()) {
      EXPECT_EQ(c.revision(), ++revision);
    }
    if (messages == 1) first_message_end = revision;
  }
  ASSERT_EQ(revision, 30);
  EXPECT_GE(messages, 3);
  // Idle: a new change comes alone.
  VLA_ASSERT_OK(CreateTeam(31));
  ASSERT_TRUE(stream->Read(&message));
  ASSERT_EQ(message.changes_size(), 1);
  EXPECT_EQ(message.changes(0).revision(), 31);
  ctx->TryCancel();
  while (stream->Read(&message)) {
  }
  stream->Finish();

  // Resumed after the first message's last change: the rest, in order.
  grpc::ClientContext resumed_ctx;
  v1::WatchChangesRequest req;
  req.set_since_revision(first_message_end);
  auto resumed =
      client::WatchEvents(server_.vmdb().WatchChanges(&resumed_ctx, req));
  v1::Change change;
  for (int64_t r = first_message_end + 1; r <= 31; ++r) {
    ASSERT_TRUE(resumed.Read(&change));
    EXPECT_EQ(change.revision(), r);
  }
  resumed_ctx.TryCancel();
}

// The change feed's follower (services/vmdb/change_follower.h, a generic
// FeedFollower) applies every change once and in commit order: across
// messages (1 KiB bound), after the handler fails a batch (it reconnects and
// resumes after the last change it applied), and live after catching up; a
// follower starting after a revision gets only the later changes.
TEST_F(VmdbWatchBatchTest, ChangeFollowerAppliesEveryChangeOnceInOrder) {
  for (int i = 1; i <= 30; ++i) VLA_ASSERT_OK(CreateTeam(i));
  std::mutex mu;
  std::vector<int64_t> applied;
  int failures = 0;
  auto follower = MakeChangeFollower(
      server_.channel(), 0, [&](const std::vector<v1::Change>& batch) {
        std::lock_guard<std::mutex> lock(mu);
        for (const v1::Change& c : batch) {
          if (c.revision() == 12 && failures == 0) {
            ++failures;  // nothing of this batch is applied
            return absl::UnavailableError("store busy");
          }
        }
        for (const v1::Change& c : batch) applied.push_back(c.revision());
        return absl::OkStatus();
      });
  auto later = MakeChangeFollower(server_.channel(), 25,
                                  [&](const std::vector<v1::Change>& batch) {
                                    for (const v1::Change& c : batch)
                                      EXPECT_GT(c.revision(), 25);
                                    return absl::OkStatus();
                                  });
  follower->Start();
  later->Start();
  ASSERT_TRUE(follower->WaitCaughtUp(absl::Seconds(10)));
  ASSERT_TRUE(later->WaitCaughtUp(absl::Seconds(10)));
  EXPECT_EQ(follower->applied(), 30);
  for (int i = 31; i <= 35; ++i) VLA_ASSERT_OK(CreateTeam(i));
  ASSERT_TRUE(Eventually([&] { return follower->applied() == 35; }));
  ASSERT_TRUE(Eventually([&] { return later->applied() == 35; }));
  follower->Stop();
  later->Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(failures, 1);
  ASSERT_EQ(applied.size(), 35u);
  for (int i = 0; i < 35; ++i) EXPECT_EQ(applied[i], i + 1);
}

}  // namespace
}  // namespace vla
