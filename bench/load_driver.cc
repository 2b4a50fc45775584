#include "bench/load_driver.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace skald::bench {
namespace {

using Clock = std::chrono::steady_clock;

// How long one AwaitSaga call waits; a saga still running then is awaited again.
constexpr int64_t kAwaitMillis = 30'000;

// One run's shared state: the sagas in flight and what ended.
class Run {
 public:
  Run(const std::vector<v1::SagaService::Stub*>& stubs, const Scenario& scenario,
      const LoadSpec& spec)
      : stubs_(stubs), scenario_(scenario), spec_(spec) {}

  LoadResult Drive(const std::function<void()>& at_window_start,
                   const std::function<void()>& at_window_end) {
    const Clock::time_point begin = Clock::now();
    {
      std::lock_guard lock(mutex_);
      result_.window_start = begin + spec_.warmup;
      result_.window_end = result_.window_start + spec_.duration;
    }
    const Clock::time_point window_start = result_.window_start;
    const Clock::time_point window_end = result_.window_end;
    std::thread pacer;
    if (spec_.mode == LoadSpec::Mode::kClosed) {
      for (int i = 0; i < spec_.concurrency; ++i) Launch();
    } else {
      pacer = std::thread([this, begin, window_end] { Pace(begin, window_end); });
    }
    std::this_thread::sleep_until(window_start);
    if (at_window_start) at_window_start();
    std::this_thread::sleep_until(window_end);
    if (at_window_end) at_window_end();
    stopping_ = true;
    if (pacer.joinable()) pacer.join();
    std::unique_lock lock(mutex_);
    idle_.wait_for(lock, spec_.drain, [this] { return in_flight_ == 0; });
    // Calls still in flight own their state: give them a way to finish without us.
    abandoned_ = in_flight_ > 0;
    return result_;
  }

  // Whether sagas were still in flight when Drive returned (their calls reference this).
  bool abandoned() const { return abandoned_; }

 private:
  struct Saga {
    grpc::ClientContext start_context;
    v1::StartSagaRequest start;
    v1::StartSagaResponse started;
    std::unique_ptr<grpc::ClientContext> await_context;
    v1::AwaitSagaRequest await;
    v1::AwaitSagaResponse awaited;
    Clock::time_point began;
    // The coordinator that started it, and is asked for its end.
    v1::SagaService::Stub* stub = nullptr;
  };

  // Offers a saga every 1/rate seconds from `begin` until `end`.
  void Pace(Clock::time_point begin, Clock::time_point end) {
    const auto interval = std::chrono::duration<double>(1.0 / spec_.rate);
    for (long long i = 0;; ++i) {
      const auto at = begin + std::chrono::duration_cast<Clock::duration>(interval * i);
      if (at >= end || stopping_) return;
      std::this_thread::sleep_until(at);
      {
        std::lock_guard lock(mutex_);
        // A bound on memory should the coordinator fall far behind the offered rate.
        if (in_flight_ >= 20'000) {
          ++result_.not_started;
          continue;
        }
      }
      Launch();
    }
  }

  void Launch() {
    auto* saga = new Saga();
    const long long n = launched_.fetch_add(1);
    saga->stub = stubs_[static_cast<size_t>(n) % stubs_.size()];
    // Every k-th saga fails at its last step: an even spread, the same in every run.
    const bool fail = scenario_.compensate_share > 0 &&
                      static_cast<long long>((n + 1) * scenario_.compensate_share) !=
                          static_cast<long long>(n * scenario_.compensate_share);
    saga->start.set_definition(scenario_.Name());
    saga->start.set_input_json(
        nlohmann::json{{"steps", scenario_.steps}, {"fail", fail}, {"n", n}}.dump());
    saga->start_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    {
      std::lock_guard lock(mutex_);
      ++in_flight_;
    }
    saga->began = Clock::now();
    saga->stub->async()->StartSaga(&saga->start_context, &saga->start, &saga->started,
                                   [this, saga](grpc::Status status) {
                                     if (!status.ok()) return Finish(saga, status);
                                     Await(saga);
                                   });
  }

  void Await(Saga* saga) {
    saga->await_context = std::make_unique<grpc::ClientContext>();
    saga->await_context->set_deadline(std::chrono::system_clock::now() +
                                      std::chrono::milliseconds(kAwaitMillis + 10'000));
    saga->await.set_saga_id(saga->started.saga_id());
    saga->await.set_timeout_ms(kAwaitMillis);
    saga->stub->async()->AwaitSaga(saga->await_context.get(), &saga->await, &saga->awaited,
                                   [this, saga](grpc::Status status) {
                                     if (status.ok() && !saga->awaited.finished() && !stopping_) {
                                       return Await(saga);
                                     }
                                     Finish(saga, status);
                                   });
  }

  void Finish(Saga* saga, const grpc::Status& status) {
    const Clock::time_point ended = Clock::now();
    bool relaunch = false;
    {
      std::lock_guard lock(mutex_);
      const bool in_window = ended >= result_.window_start && ended <= result_.window_end;
      if (!status.ok()) {
        ++result_.errors;
        if (result_.first_error.empty()) {
          result_.first_error = std::to_string(status.error_code()) + ": " + status.error_message();
        }
      } else if (in_window && saga->awaited.finished()) {
        switch (saga->awaited.state()) {
          case v1::SAGA_STATE_COMPLETED:
            ++result_.completed;
            break;
          case v1::SAGA_STATE_COMPENSATED:
            ++result_.compensated;
            break;
          default:
            ++result_.failed;
        }
        if (saga->began >= result_.window_start) {
          result_.latencies.push_back(std::chrono::duration<double>(ended - saga->began).count());
        }
      }
      --in_flight_;
      relaunch = spec_.mode == LoadSpec::Mode::kClosed && !stopping_;
      if (in_flight_ == 0) idle_.notify_all();
    }
    delete saga;
    if (relaunch) Launch();
  }

  const std::vector<v1::SagaService::Stub*> stubs_;
  const Scenario scenario_;
  const LoadSpec spec_;
  std::atomic<bool> stopping_ = false;
  std::atomic<long long> launched_ = 0;
  std::mutex mutex_;
  std::condition_variable idle_;
  long long in_flight_ = 0;
  bool abandoned_ = false;
  LoadResult result_;
};

}  // namespace

LoadDriver::LoadDriver(const std::vector<std::string>& coordinator_addresses) {
  for (const std::string& address : coordinator_addresses) {
    stubs_.push_back(
        v1::SagaService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
  }
}

LoadResult LoadDriver::Run(const Scenario& scenario, const LoadSpec& spec,
                           const std::function<void()>& at_window_start,
                           const std::function<void()>& at_window_end) {
  std::vector<v1::SagaService::Stub*> stubs;
  for (const auto& stub : stubs_) stubs.push_back(stub.get());
  auto run = std::make_unique<bench::Run>(stubs, scenario, spec);
  LoadResult result = run->Drive(at_window_start, at_window_end);
  // Calls still in flight after the drain reference the run: keep it alive (a bounded leak
  // in a benchmark that already reports them as unfinished).
  if (run->abandoned()) run.release();
  std::sort(result.latencies.begin(), result.latencies.end());
  return result;
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()));
  return sorted[index];
}

}  // namespace skald::bench
