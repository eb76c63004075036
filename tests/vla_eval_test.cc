// VLA evaluation formulas at hand-worked values (domain.md, "VLA
// evaluation").
#include "services/evaluator/vla_eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "common/format_value.h"

namespace vla::evaluator {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Kvi Kvi(const std::string& name, v1::Direction d, const std::string& unit,
            const std::string& display = "") {
  v1::Kvi k;
  k.set_name(name);
  k.set_direction(d);
  k.set_unit(unit);
  k.set_display_name(display);
  return k;
}

v1::KviValue Value(
    double v, bool has = true,
    v1::CoMeasurementState cm = v1::CO_MEASUREMENT_STATE_NOT_COMEASURED) {
  v1::KviValue out;
  out.set_value(v);
  out.set_has_value(has);
  out.set_samples(has ? 10 : 0);
  out.set_comeasurement(cm);
  return out;
}

class VlaEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kvis_["kvis/happiness"] =
        Kvi("kvis/happiness", v1::DIRECTION_HIGHER_IS_BETTER, "", "Happiness");
    kvis_["kvis/lead"] =
        Kvi("kvis/lead", v1::DIRECTION_LOWER_IS_BETTER, "s", "p90 lead time");
    kvis_["kvis/reopen"] =
        Kvi("kvis/reopen", v1::DIRECTION_LOWER_IS_BETTER, "%");
    kvis_["kvis/sla"] =
        Kvi("kvis/sla", v1::DIRECTION_HIGHER_IS_BETTER, "%", "SLA compliance");
    vla_.set_name("vlas/v");
    vla_.set_revision(3);
    AddClause("kvis/happiness", 70, 50);
    AddClause("kvis/lead", 5 * 86400, 7 * 86400);
    AddClause("kvis/reopen", 0.05, 0.10);
  }

  v1::Clause* AddClause(const std::string& kvi, double target, double warning) {
    v1::Clause* c = vla_.add_clauses();
    c->set_kvi(kvi);
    c->set_target(target);
    c->set_warning(warning);
    return c;
  }

  v1::VlaStatus Eval() {
    return EvaluateVla(
        vla_,
        [&](const std::string& name) {
          KviInput in;
          auto k = kvis_.find(name);
          if (k != kvis_.end()) in.kvi = &k->second;
          auto v = values_.find(name);
          if (v != values_.end()) in.value = &v->second;
          return in;
        },
        absl::FromUnixSeconds(1767225600));
  }

  v1::Vla vla_;
  std::map<std::string, v1::Kvi> kvis_;
  std::map<std::string, v1::KviValue> values_;
};

TEST_F(VlaEvalTest, AllMet) {
  values_["kvis/happiness"] = Value(75);
  values_["kvis/lead"] = Value(4 * 86400);
  values_["kvis/reopen"] = Value(0.05);  // exactly at target: MET
  const v1::VlaStatus s = Eval();
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_MET);
  EXPECT_DOUBLE_EQ(s.score(), 100);
  EXPECT_EQ(s.vla_revision(), 3);
  EXPECT_EQ(s.evaluate_time().seconds(), 1767225600);
  for (const auto& c : s.clauses()) EXPECT_EQ(c.state(), v1::CLAUSE_STATE_MET);
  EXPECT_FALSE(s.watermelon());
  EXPECT_THAT(s.explanation(), HasSubstr("MET (score 100)"));
}

TEST_F(VlaEvalTest, ScoreAndStatesBothDirections) {
  values_["kvis/happiness"] = Value(60);    // 50 <= 60 < 70: AT_RISK 0.5
  values_["kvis/lead"] = Value(8 * 86400);  // worse than 7 d: BREACHED 0
  values_["kvis/reopen"] = Value(0.07);     // 0.05 < 0.07 <= 0.10: AT_RISK
  const v1::VlaStatus s = Eval();
  EXPECT_EQ(s.clauses(0).state(), v1::CLAUSE_STATE_AT_RISK);
  EXPECT_EQ(s.clauses(1).state(), v1::CLAUSE_STATE_BREACHED);
  EXPECT_EQ(s.clauses(2).state(), v1::CLAUSE_STATE_AT_RISK);
  // 100 * (0.5 + 0 + 0.5) / 3 = 33.33: below 75, BREACHED.
  EXPECT_NEAR(s.score(), 100.0 / 3, 1e-9);
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_BREACHED);
  EXPECT_THAT(s.explanation(),
              HasSubstr("p90 lead time 8 d is worse than the warning 7 d"));
  EXPECT_THAT(s.explanation(), HasSubstr("Happiness 60 misses its target 70"));
}

TEST_F(VlaEvalTest, WeightsAndPassScores) {
  vla_.mutable_clauses(0)->set_weight(3);
  values_["kvis/happiness"] = Value(80);    // MET, weight 3
  values_["kvis/lead"] = Value(6 * 86400);  // AT_RISK, weight 1 (0 means 1)
  values_["kvis/reopen"] = Value(0.01);     // MET
  // 100 * (3*1 + 1*0.5 + 1*1) / 5 = 90: MET at the default pass score 90.
  v1::VlaStatus s = Eval();
  EXPECT_DOUBLE_EQ(s.score(), 90);
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_MET);
  vla_.set_pass_score(95);
  s = Eval();
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_AT_RISK);  // 90 >= 75
  vla_.set_warning_score(91);
  s = Eval();
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_BREACHED);
}

TEST_F(VlaEvalTest, GatingClauseBreachesTheWholeVla) {
  vla_.mutable_clauses(1)->set_gating(true);
  vla_.mutable_clauses(0)->set_weight(10);
  values_["kvis/happiness"] = Value(90);
  values_["kvis/lead"] = Value(10 * 86400);  // BREACHED and gating
  values_["kvis/reopen"] = Value(0);
  const v1::VlaStatus s = Eval();
  // Score is high (100 * 11 / 12 = 91.7) but the gate decides.
  EXPECT_NEAR(s.score(), 100.0 * 11 / 12, 1e-9);
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_BREACHED);
  EXPECT_THAT(s.explanation(), HasSubstr("(gating)"));
}

TEST_F(VlaEvalTest, NoDataClausesAreLeftOutAndWeightsRenormalise) {
  values_["kvis/happiness"] = Value(0, false);
  values_["kvis/lead"] = Value(6 * 86400);  // AT_RISK 0.5
  values_["kvis/reopen"] = Value(0.01);     // MET 1
  const v1::VlaStatus s = Eval();
  EXPECT_EQ(s.clauses(0).state(), v1::CLAUSE_STATE_NO_DATA);
  EXPECT_DOUBLE_EQ(s.score(), 75);  // 100 * 1.5 / 2
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_AT_RISK);
  EXPECT_THAT(s.explanation(), HasSubstr("Happiness has no data"));
}

TEST_F(VlaEvalTest, NoDataAtAll) {
  const v1::VlaStatus s = Eval();
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_NO_DATA);
  EXPECT_EQ(s.score(), 0);
  EXPECT_FALSE(s.watermelon());
  EXPECT_THAT(s.explanation(), HasSubstr("NO_DATA"));
}

TEST_F(VlaEvalTest, DisputedClauseScoresHalf) {
  values_["kvis/happiness"] =
      Value(75, true, v1::CO_MEASUREMENT_STATE_DISPUTED);
  (*values_["kvis/happiness"].mutable_party_values())["teams/business"] = 40;
  (*values_["kvis/happiness"].mutable_party_values())["teams/desk"] = 75;
  values_["kvis/lead"] = Value(1);
  values_["kvis/reopen"] = Value(0);
  const v1::VlaStatus s = Eval();
  EXPECT_EQ(s.clauses(0).state(), v1::CLAUSE_STATE_DISPUTED);
  EXPECT_TRUE(s.disputed());
  EXPECT_NEAR(s.score(), 100 * 2.5 / 3, 1e-9);  // 83.3: AT_RISK
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_AT_RISK);
  EXPECT_THAT(s.explanation(),
              HasSubstr("Happiness is disputed (business 40 vs desk 75)"));
}

TEST_F(VlaEvalTest, Attainment) {
  vla_.mutable_clauses(0)->set_baseline(62);          // 62 -> 70
  vla_.mutable_clauses(1)->set_baseline(10 * 86400);  // 10 d -> 5 d
  values_["kvis/happiness"] = Value(66);              // (66-62)/(70-62) = 0.5
  values_["kvis/lead"] = Value(9 * 86400);            // (9-10)/(5-10) = 0.2
  values_["kvis/reopen"] = Value(0.2);
  v1::VlaStatus s = Eval();
  EXPECT_DOUBLE_EQ(s.clauses(0).attainment(), 0.5);
  EXPECT_DOUBLE_EQ(s.clauses(1).attainment(), 0.2);
  EXPECT_FALSE(s.clauses(2).has_attainment());  // no baseline
  values_["kvis/happiness"] = Value(90);        // beyond target: clamped to 1
  values_["kvis/lead"] = Value(12 * 86400);     // worse than baseline: 0
  s = Eval();
  EXPECT_DOUBLE_EQ(s.clauses(0).attainment(), 1);
  EXPECT_DOUBLE_EQ(s.clauses(1).attainment(), 0);
}

TEST_F(VlaEvalTest, WatermelonWhenSlaIsMetButTheVlaIsNot) {
  vla_.mutable_sla()->set_kvi("kvis/sla");
  vla_.mutable_sla()->set_target(0.95);
  values_["kvis/sla"] = Value(0.97);
  values_["kvis/happiness"] = Value(40);      // BREACHED
  values_["kvis/lead"] = Value(9.2 * 86400);  // BREACHED
  values_["kvis/reopen"] = Value(0.02);       // MET
  v1::VlaStatus s = Eval();
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_BREACHED);
  EXPECT_TRUE(s.sla_met());
  EXPECT_DOUBLE_EQ(s.sla_value(), 0.97);
  EXPECT_TRUE(s.watermelon());
  EXPECT_THAT(s.explanation(),
              HasSubstr("p90 lead time 9.2 d is worse than the warning 7 d"));
  EXPECT_THAT(s.explanation(),
              HasSubstr("SLA compliance 97% meets its 95% target: watermelon"));

  // SLA missed: not a watermelon, just red.
  values_["kvis/sla"] = Value(0.90);
  s = Eval();
  EXPECT_FALSE(s.sla_met());
  EXPECT_FALSE(s.watermelon());
  // VLA met and SLA met: green all through.
  values_["kvis/sla"] = Value(0.99);
  values_["kvis/happiness"] = Value(80);
  values_["kvis/lead"] = Value(86400);
  s = Eval();
  EXPECT_EQ(s.state(), v1::COMPLIANCE_STATE_MET);
  EXPECT_FALSE(s.watermelon());
  // An SLA without data is not met.
  values_.erase("kvis/sla");
  values_["kvis/happiness"] = Value(10);
  s = Eval();
  EXPECT_FALSE(s.sla_met());
  EXPECT_FALSE(s.watermelon());
  // Named once, by its display name ("SLA compliance"), not "SLA SLA ...".
  EXPECT_THAT(s.explanation(), HasSubstr("; SLA compliance has no data"));
  EXPECT_THAT(s.explanation(), Not(HasSubstr("SLA SLA")));
}

TEST(FormatValueTest, Units) {
  EXPECT_EQ(FormatValue(9.2 * 86400, "s"), "9.2 d");
  EXPECT_EQ(FormatValue(3.5 * 3600, "s"), "3.5 h");
  EXPECT_EQ(FormatValue(720, "s"), "12 min");
  EXPECT_EQ(FormatValue(42, "s"), "42 s");
  EXPECT_EQ(FormatValue(0.97, "%"), "97%");
  EXPECT_EQ(FormatValue(14, "%"), "14%");
  EXPECT_EQ(FormatValue(12.5, "EUR"), "12.5 EUR");
  EXPECT_EQ(FormatValue(71, ""), "71");
}

}  // namespace
}  // namespace vla::evaluator
