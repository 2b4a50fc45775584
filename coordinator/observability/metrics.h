#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// A small metrics registry rendered in the Prometheus text exposition format (0.0.4):
// counters, gauges and histograms, each a family of series told apart by label values.
// Updating a series is lock-free; looking one up by its labels takes the family's lock.
namespace skald::observability {

// Label values of one series, in the order of its family's label names.
using LabelValues = std::vector<std::string>;

// The value every label of a family's overflow series takes (see MetricFamily).
inline constexpr char kOverflowLabelValue[] = "_other";

class Counter {
 public:
  // REQUIRES: by >= 0 (a counter only goes up).
  void Increment(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // REQUIRES: `bounds` strictly increasing; an implicit +Inf bucket follows them.
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);

  struct Snapshot {
    // Cumulative counts, one per bound, then the +Inf bucket (== count).
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1 of them
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Bucket bounds in seconds from 1 ms to 60 s, for call and transaction latencies.
std::vector<double> LatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// Every series of one metric. A family keeps at most `max_series` series: label values
// beyond that are counted in one extra overflow series whose every label is
// kOverflowLabelValue,
// so that a burst of unexpected values cannot grow memory or the scrape without bound.
// Label values are cut to 128 bytes. Thread-safe.
template <typename Series>
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, std::vector<std::string> label_names,
               size_t max_series, std::function<std::unique_ptr<Series>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        max_series_(max_series),
        make_(std::move(make)) {
    // A family without labels has its one series from the start, so it is always scraped.
    if (label_names_.empty()) series_.emplace(LabelValues{}, make_());
  }

  // Returns the series with these label values, creating it on first use. The reference
  // stays valid as long as the family. REQUIRES: one value per label name.
  Series& WithLabels(LabelValues values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls `visit(values, series)` for each series, in label order, under the family's lock.
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, series] : series_) visit(values, *series);
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const size_t max_series_;
  const std::function<std::unique_ptr<Series>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Series>> series_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

// The metrics of one process (or one coordinator). Families are added at start-up and live
// as long as the registry; their series are updated from any thread.
class MetricsRegistry {
 public:
  // `max_series` bounds each family (see MetricFamily).
  explicit MetricsRegistry(size_t max_series = 2000) : max_series_(max_series) {}
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // REQUIRES: `name` a valid Prometheus metric name not yet used here (a counter's ends in
  // _total), label names valid and not "le".
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

  // Returns every family in the Prometheus text exposition format, in the order added.
  std::string RenderText() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    std::unique_ptr<std::vector<double>> bounds;
  };

  const size_t max_series_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

// The content type of RenderText's output.
inline constexpr char kPrometheusTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Returns `value` as the text format writes a sample value: integers without a fraction,
// "+Inf", "-Inf", "NaN", and otherwise the shortest form that reads back the same.
std::string FormatSampleValue(double value);

// Returns `value` escaped for a label value: backslash, double quote and newline.
std::string EscapeLabelValue(const std::string& value);

template <typename Series>
Series& MetricFamily<Series>::WithLabels(LabelValues values) {
  values.resize(label_names_.size());
  for (std::string& value : values) {
    if (value.size() > 128) value.resize(128);
  }
  std::lock_guard lock(mutex_);
  if (auto it = series_.find(values); it != series_.end()) return *it->second;
  if (series_.size() >= max_series_) {
    values.assign(label_names_.size(), kOverflowLabelValue);
    if (auto it = series_.find(values); it != series_.end()) return *it->second;
  }
  return *series_.emplace(std::move(values), make_()).first->second;
}

}  // namespace skald::observability
