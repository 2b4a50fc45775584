#include "coordinator/observability/metrics.h"

#include <charconv>
#include <cmath>

namespace skald::observability {
namespace {

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Appends {name="value",...} (nothing for no labels), with `extra` as a last label.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const LabelValues& values, const std::string& extra_name = "",
                  const std::string& extra_value = "") {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name + "=\"" + EscapeLabelValue(extra_value) + "\"";
  }
  out += '}';
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  const char* type) {
  out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

template <typename Series>
void AppendSimple(std::string& out, const MetricFamily<Series>& family, const char* type) {
  AppendHeader(out, family.name(), family.help(), type);
  family.ForEach([&](const LabelValues& values, const Series& series) {
    out += family.name();
    AppendLabels(out, family.label_names(), values);
    out += ' ' + FormatSampleValue(series.value()) + '\n';
  });
}

void AppendHistogram(std::string& out, const HistogramFamily& family,
                     const std::vector<double>& bounds) {
  AppendHeader(out, family.name(), family.help(), "histogram");
  family.ForEach([&](const LabelValues& values, const Histogram& histogram) {
    const Histogram::Snapshot snapshot = histogram.Read();
    for (size_t i = 0; i <= bounds.size(); ++i) {
      out += family.name() + "_bucket";
      AppendLabels(out, family.label_names(), values, "le",
                   i < bounds.size() ? FormatSampleValue(bounds[i]) : "+Inf");
      out += ' ' + std::to_string(snapshot.cumulative[i]) + '\n';
    }
    out += family.name() + "_sum";
    AppendLabels(out, family.label_names(), values);
    out += ' ' + FormatSampleValue(snapshot.sum) + '\n';
    out += family.name() + "_count";
    AppendLabels(out, family.label_names(), values);
    out += ' ' + std::to_string(snapshot.count) + '\n';
  });
}

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_->size() && value > (*bounds_)[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  // Read concurrently with Observe, the count is taken from the buckets so that the +Inf
  // bucket and _count always agree.
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

CounterFamily& MetricsRegistry::AddCounter(std::string name, std::string help,
                                           std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Entry entry{MetricType::kCounter};
  entry.counter =
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names),
                                      max_series_, [] { return std::make_unique<Counter>(); });
  return *entries_.emplace_back(std::move(entry)).counter;
}

GaugeFamily& MetricsRegistry::AddGauge(std::string name, std::string help,
                                       std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  Entry entry{MetricType::kGauge};
  entry.gauge =
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names),
                                    max_series_, [] { return std::make_unique<Gauge>(); });
  return *entries_.emplace_back(std::move(entry)).gauge;
}

HistogramFamily& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  Entry entry{MetricType::kHistogram};
  entry.bounds = std::make_unique<std::vector<double>>(std::move(bounds));
  const std::vector<double>* shared_bounds = entry.bounds.get();
  entry.histogram = std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), std::move(label_names), max_series_,
      [shared_bounds] { return std::make_unique<Histogram>(shared_bounds); });
  return *entries_.emplace_back(std::move(entry)).histogram;
}

std::string MetricsRegistry::RenderText() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Entry& entry : entries_) {
    switch (entry.type) {
      case MetricType::kCounter:
        AppendSimple(out, *entry.counter, "counter");
        break;
      case MetricType::kGauge:
        AppendSimple(out, *entry.gauge, "gauge");
        break;
      case MetricType::kHistogram:
        AppendHistogram(out, *entry.histogram, *entry.bounds);
        break;
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char text[32];
  auto [end, error] = std::to_chars(text, text + sizeof text, value);
  return std::string(text, end);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace skald::observability
