#include "services/common/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace vla::metrics {

void Counter::Increment(double by) const {
  if (c_ != nullptr) c_->Increment(by);
}

void Gauge::Set(double value) const {
  if (g_ != nullptr) g_->Set(value);
}

void Gauge::Add(double by) const {
  if (g_ != nullptr) g_->Increment(by);
}

void Histogram::Observe(double value) const {
  if (h_ != nullptr) h_->Observe(value);
}

const std::vector<double>& DurationBuckets() {
  static const auto* const buckets = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,   1,      2.5,   5,    10,    30};
  return *buckets;
}

// The AddSampled series: read at each Collect.
class Registry::SampledCollectable final : public prometheus::Collectable {
 public:
  void Add(std::string name, std::string help, Type type, Labels labels,
           std::function<double()> read) {
    std::lock_guard<std::mutex> lock(mu_);
    series_.push_back({std::move(name), std::move(help), type,
                       std::move(labels), std::move(read)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<prometheus::MetricFamily> families;
    std::map<std::string, size_t> index;
    for (const Series& s : series_) {
      auto [it, added] = index.emplace(s.name, families.size());
      if (added) {
        prometheus::MetricFamily f;
        f.name = s.name;
        f.help = s.help;
        f.type = s.type == Type::kCounter ? prometheus::MetricType::Counter
                                          : prometheus::MetricType::Gauge;
        families.push_back(std::move(f));
      }
      prometheus::MetricFamily& f = families[it->second];
      prometheus::ClientMetric m;
      for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
      const double value = s.read();
      if (s.type == Type::kCounter) {
        m.counter.value = value;
      } else {
        m.gauge.value = value;
      }
      f.metric.push_back(std::move(m));
    }
    return families;
  }

 private:
  struct Series {
    std::string name, help;
    Type type;
    Labels labels;
    std::function<double()> read;
  };
  mutable std::mutex mu_;
  std::vector<Series> series_;
};

Registry::Registry()
    : registry_(std::make_shared<prometheus::Registry>()),
      sampled_(std::make_shared<SampledCollectable>()) {}

Registry::~Registry() = default;

void Registry::Claim(absl::string_view name, absl::string_view help, int type) {
  auto it = claimed_.find(name);
  if (it == claimed_.end()) {
    claimed_.emplace(std::string(name),
                     std::make_pair(type, std::string(help)));
    return;
  }
  if (it->second.first != type || it->second.second != help) {
    std::fprintf(stderr,
                 "metrics: %s registered twice with another type or help\n",
                 std::string(name).c_str());
    std::abort();
  }
}

Counter Registry::GetCounter(absl::string_view name, absl::string_view help,
                             const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Claim(name, help, 0);
  auto& family = prometheus::BuildCounter()
                     .Name(std::string(name))
                     .Help(std::string(help))
                     .Register(*registry_);
  return Counter(&family.Add(labels));
}

Gauge Registry::GetGauge(absl::string_view name, absl::string_view help,
                         const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Claim(name, help, 1);
  auto& family = prometheus::BuildGauge()
                     .Name(std::string(name))
                     .Help(std::string(help))
                     .Register(*registry_);
  return Gauge(&family.Add(labels));
}

Histogram Registry::GetHistogram(absl::string_view name, absl::string_view help,
                                 const std::vector<double>& buckets,
                                 const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Claim(name, help, 2);
  auto& family = prometheus::BuildHistogram()
                     .Name(std::string(name))
                     .Help(std::string(help))
                     .Register(*registry_);
  return Histogram(&family.Add(labels, buckets));
}

void Registry::AddSampled(absl::string_view name, absl::string_view help,
                          Type type, const Labels& labels,
                          std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  Claim(name, help, type == Type::kCounter ? 3 : 4);
  sampled_->Add(std::string(name), std::string(help), type, labels,
                std::move(read));
}

std::string Registry::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (auto& f : sampled_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

std::vector<std::shared_ptr<prometheus::Collectable>> Registry::collectables()
    const {
  return {registry_, sampled_};
}

}  // namespace vla::metrics
