// Metrics: a small facade over prometheus-cpp, so that services count and
// time things without including Prometheus headers.
//
// The server owns one Registry and hands it to the modules; a module takes
// handles once and uses them on its hot paths:
//
//   metrics::Counter accepted = registry->GetCounter(
//       "vla_ingest_records_total", "Ingested records by result.",
//       {{"result", "accepted"}});
//   accepted.Increment(n);
//
// A default-constructed handle does nothing, so code built without a
// registry (unit tests, benchmarks) needs no checks. Values that already
// live elsewhere (a queue length, a file size) are read at scrape time with
// AddSampled instead of being copied on every change.
#ifndef VLA_SERVICES_COMMON_METRICS_H_
#define VLA_SERVICES_COMMON_METRICS_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prometheus {
class Collectable;
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace vla::metrics {

// Label name -> value.
using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  Counter() = default;
  void Increment(double by = 1) const;

 private:
  friend class Registry;
  explicit Counter(prometheus::Counter* c) : c_(c) {}
  prometheus::Counter* c_ = nullptr;
};

class Gauge {
 public:
  Gauge() = default;
  void Set(double value) const;
  void Add(double by) const;

 private:
  friend class Registry;
  explicit Gauge(prometheus::Gauge* g) : g_(g) {}
  prometheus::Gauge* g_ = nullptr;
};

class Histogram {
 public:
  Histogram() = default;
  void Observe(double value) const;
  // Observes `d` in seconds.
  void ObserveDuration(absl::Duration d) const {
    Observe(absl::ToDoubleSeconds(d));
  }

 private:
  friend class Registry;
  explicit Histogram(prometheus::Histogram* h) : h_(h) {}
  prometheus::Histogram* h_ = nullptr;
};

// Bucket bounds in seconds for call and pass durations: 0.5 ms to 30 s.
const std::vector<double>& DurationBuckets();

// A set of metric families. Thread-safe. A name is one family: asking for
// it again (with other labels) adds a series to it; asking for it with
// another type or help text is a programming error (aborts).
class Registry {
 public:
  enum class Type { kCounter, kGauge };

  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter GetCounter(absl::string_view name, absl::string_view help,
                     const Labels& labels = {});
  Gauge GetGauge(absl::string_view name, absl::string_view help,
                 const Labels& labels = {});
  Histogram GetHistogram(absl::string_view name, absl::string_view help,
                         const std::vector<double>& buckets,
                         const Labels& labels = {});

  // A series whose value `read` returns at each scrape (from the scraping
  // thread: it must be thread-safe and cheap). `read` must stay callable as
  // long as this registry is scraped.
  void AddSampled(absl::string_view name, absl::string_view help, Type type,
                  const Labels& labels, std::function<double()> read);

  // Every series in the Prometheus text format (what /metrics serves).
  std::string Scrape() const;

  // What an exposer serves (see services/server/metrics_http.h).
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables() const;

 private:
  class SampledCollectable;
  // Checks that `name` is used with one type and help text only.
  void Claim(absl::string_view name, absl::string_view help, int type);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<SampledCollectable> sampled_;
  std::mutex mu_;
  std::map<std::string, std::pair<int, std::string>, std::less<>> claimed_;
};

}  // namespace vla::metrics

#endif  // VLA_SERVICES_COMMON_METRICS_H_
