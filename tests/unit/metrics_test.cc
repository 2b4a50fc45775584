// The metrics registry and its Prometheus text format.
#include "coordinator/observability/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

#include "coordinator/observability/coordinator_metrics.h"

namespace skald::observability {
namespace {

TEST(MetricsText, CounterWithLabelsHasHelpTypeAndOneLinePerSeries) {
  MetricsRegistry registry;
  CounterFamily& started =
      registry.AddCounter("skald_sagas_started_total", "Sagas started.", {"definition"});
  started.WithLabels({"order"}).Increment();
  started.WithLabels({"order"}).Increment(2);
  started.WithLabels({"refund"}).Increment();
  EXPECT_EQ(registry.RenderText(),
            "# HELP skald_sagas_started_total Sagas started.\n"
            "# TYPE skald_sagas_started_total counter\n"
            "skald_sagas_started_total{definition=\"order\"} 3\n"
            "skald_sagas_started_total{definition=\"refund\"} 1\n");
}

TEST(MetricsText, AFamilyWithoutLabelsIsScrapedBeforeItsFirstUpdate) {
  MetricsRegistry registry;
  registry.AddCounter("takeovers_total", "Takeovers.");
  registry.AddGauge("in_flight", "In flight.");
  EXPECT_EQ(registry.RenderText(),
            "# HELP takeovers_total Takeovers.\n"
            "# TYPE takeovers_total counter\n"
            "takeovers_total 0\n"
            "# HELP in_flight In flight.\n"
            "# TYPE in_flight gauge\n"
            "in_flight 0\n");
}

TEST(MetricsText, GaugeGoesUpAndDown) {
  MetricsRegistry registry;
  Gauge& gauge = registry.AddGauge("g", "A gauge.").WithLabels({});
  gauge.Set(5);
  gauge.Add(-2.5);
  EXPECT_NE(registry.RenderText().find("\ng 2.5\n"), std::string::npos) << registry.RenderText();
}

TEST(MetricsText, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  HistogramFamily& family =
      registry.AddHistogram("latency_seconds", "Latency.", {"step"}, {0.25, 1});
  Histogram& histogram = family.WithLabels({"charge"});
  histogram.Observe(0.125);
  histogram.Observe(0.25);  // A bound is inclusive: le means "less than or equal".
  histogram.Observe(0.5);
  histogram.Observe(7);
  EXPECT_EQ(registry.RenderText(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{step=\"charge\",le=\"0.25\"} 2\n"
            "latency_seconds_bucket{step=\"charge\",le=\"1\"} 3\n"
            "latency_seconds_bucket{step=\"charge\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{step=\"charge\"} 7.875\n"
            "latency_seconds_count{step=\"charge\"} 4\n");
}

TEST(MetricsText, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.AddCounter("c_total", "Line one\nback\\slash", {"l"})
      .WithLabels({"a\"b\\c\nd"})
      .Increment();
  const std::string text = registry.RenderText();
  EXPECT_NE(text.find("# HELP c_total Line one\\nback\\\\slash\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c_total{l=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsText, SampleValues) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(42), "42");
  EXPECT_EQ(FormatSampleValue(-3), "-3");
  EXPECT_EQ(FormatSampleValue(0.25), "0.25");
  EXPECT_EQ(FormatSampleValue(1e20), "1e+20");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

TEST(MetricsFamily, LabelValuesBeyondTheBoundGoToOneOverflowSeries) {
  MetricsRegistry registry(/*max_series=*/3);
  CounterFamily& family = registry.AddCounter("c_total", "C.", {"a", "b"});
  for (int i = 0; i < 10; ++i) family.WithLabels({"x" + std::to_string(i), "y"}).Increment();
  int series = 0;
  double overflow = 0;
  family.ForEach([&](const LabelValues& values, const Counter& counter) {
    ++series;
    if (values == LabelValues{kOverflowLabelValue, kOverflowLabelValue}) overflow = counter.value();
  });
  EXPECT_EQ(series, 4);
  EXPECT_EQ(overflow, 7);
  // Known series are still found and counted as themselves.
  family.WithLabels({"x1", "y"}).Increment();
  EXPECT_EQ(family.WithLabels({"x1", "y"}).value(), 2);
}

TEST(MetricsFamily, LongLabelValuesAreCut) {
  MetricsRegistry registry;
  CounterFamily& family = registry.AddCounter("c_total", "C.", {"a"});
  family.WithLabels({std::string(500, 'x')}).Increment();
  EXPECT_NE(registry.RenderText().find("{a=\"" + std::string(128, 'x') + "\"} 1"),
            std::string::npos);
  EXPECT_EQ(registry.RenderText().find(std::string(129, 'x')), std::string::npos);
}

TEST(MetricsFamily, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  CounterFamily& counters = registry.AddCounter("c_total", "C.", {"t"});
  HistogramFamily& histograms = registry.AddHistogram("h", "H.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10'000; ++i) {
        counters.WithLabels({std::to_string(t % 2)}).Increment();
        histograms.WithLabels({}).Observe(0.5);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counters.WithLabels({"0"}).value() + counters.WithLabels({"1"}).value(), 40'000);
  EXPECT_EQ(histograms.WithLabels({}).Read().count, 40'000u);
  EXPECT_EQ(histograms.WithLabels({}).Read().cumulative[0], 40'000u);
}

TEST(CoordinatorMetrics, NamesAndLabelsAsDocumented) {
  MetricsRegistry registry;
  CoordinatorMetrics metrics(registry);
  metrics.SagaStarted("order");
  metrics.SagaFinished("order", "COMPENSATED");
  metrics.AttemptFinished("order", "charge-payment", "action", "failure",
                          std::chrono::milliseconds(30));
  metrics.RetryScheduled("order", "charge-payment", "action");
  metrics.SetSagasInFlight(3);
  metrics.LeasesTakenOver(2);
  metrics.DatabaseTransaction("create_saga", std::chrono::milliseconds(2), true);
  const std::string text = registry.RenderText();
  for (
      const std::string expected : {
          "skald_sagas_started_total{definition=\"order\"} 1\n",
          "skald_sagas_finished_total{definition=\"order\",state=\"COMPENSATED\"} 1\n",
          "skald_step_attempt_duration_seconds_bucket{definition=\"order\",step=\"charge-payment\","
          "phase=\"action\",outcome=\"failure\",le=\"0.05\"} 1\n",
          "skald_step_attempt_duration_seconds_count{definition=\"order\",step=\"charge-payment\","
          "phase=\"action\",outcome=\"failure\"} 1\n",
          "skald_step_retries_total{definition=\"order\",step=\"charge-payment\",phase=\"action\"} "
          "1\n",
          "skald_sagas_in_flight 3\n",
          "skald_lease_takeovers_total 2\n",
          "skald_db_transaction_duration_seconds_count{operation=\"create_saga\"} 1\n",
          "skald_db_errors_total{operation=\"create_saga\"} 1\n",
      }) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
  }
}

}  // namespace
}  // namespace skald::observability
