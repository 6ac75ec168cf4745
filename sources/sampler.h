// The Sampler polls every unique source query of the served policies once per
// its interval, however many policies, signals or KEDA calls use it, and
// keeps the latest Observation of each in memory for the evaluator.
//
// - Coalescing: queries are keyed by their source spec (interval aside); a
//   query shared by several policies is polled at the shortest interval any
//   of them asks for.
// - Spreading: the first poll of a query is within a second (at a random
//   point) and each later one is jittered by +/-10 % of its interval, so
//   polls drift apart instead of bunching up.
// - Isolation: reads run on a bounded pool of workers, each with a deadline of
//   at most one interval; a slow query occupies one worker and delays no other
//   query while workers are free.
// - Reloads: Update() starts polls of new queries and stops removed ones.
// - Notifications: a source that supports Subscribe() (Redis keyspace
//   events) is re-read at once on a change, then `on_notified` is told which
//   policies to re-evaluate.
//
//   Sampler sampler(MakeSource, clock, {});
//   sampler.Update(snapshot->policies());
//   sampler.Start();
//   Observation o = sampler.Get(signal.source());
#ifndef SIGNALSCALER_SOURCES_SAMPLER_H_
#define SIGNALSCALER_SOURCES_SAMPLER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/common/clock.h"
#include "scaler/engine/decision.h"
#include "scaler/policy/loader.h"
#include "scaler/policy/policy_key.h"
#include "sources/source.h"

namespace signalscaler {

using SourceFactory = std::function<absl::StatusOr<std::unique_ptr<Source>>(
    const v1::Source& source)>;

struct SamplerOptions {
  int workers = 4;         // concurrent reads at most
  double jitter = 0.1;     // +/- fraction of the interval
  uint64_t seed = 0x5eed;  // of the jitter (deterministic in tests)
  // Upper bound of a read's deadline (also bounded by the interval).
  absl::Duration max_read_time = absl::Seconds(10);
};

// The coalescing key of a source spec: equal for the same query whatever
// its interval. Push sources are not sampled (empty key).
std::string SampleKey(const v1::Source& source);
// A short, stable id of a key for metric labels (never the query text).
std::string QueryId(const std::string& key);

// Thread-safe.
class Sampler {
 public:
  Sampler(SourceFactory factory, const Clock& clock, SamplerOptions options);
  ~Sampler();

  // Replaces the sampled queries with those of `policies` (signals and the
  // replicas sources, push ones excluded). A source that cannot be created
  // is kept as an entry whose observation is that error.
  void Update(const std::vector<LoadedPolicy>& policies);

  // The latest observation of `source`'s query: no reading and OK status
  // before its first poll; the last good reading and the latest error after
  // a failed one. NOT_FOUND error if the query is not sampled.
  Observation Get(const v1::Source& source) const;

  // Called after a notification-triggered read, with the policies using it.
  void SetOnNotified(std::function<void(const std::vector<PolicyKey>&)> f);

  void Start();  // the scheduler and worker threads
  void Stop();

  // Runs every due read on the calling thread (tests with a ManualClock;
  // not while started).
  void PollDue();

  size_t queries() const;  // unique queries sampled
  uint64_t reads() const;  // reads performed since start

 private:
  struct Entry {
    std::shared_ptr<Source> source;
    absl::Status create_error;  // when the source could not be created
    absl::Duration interval;
    absl::Time next_due;
    bool in_flight = false;
    bool notified = false;
    Observation last;
    std::vector<PolicyKey> users;
    std::string kind;      // for metrics: "prometheus", "redis", "scrape"
    std::string query_id;  // for metrics: a stable short hash of the key
  };
  // A sampled query and the policies that use it.
  struct Want {
    v1::Source spec;
    absl::Duration interval = absl::InfiniteDuration();  // the shortest
    std::set<PolicyKey> users;
  };
  // Every query `policies` sample, by SampleKey.
  static std::map<std::string, Want> Wanted(
      const std::vector<LoadedPolicy>& policies);
  // Drops the entries no longer wanted (returns their sources, to destroy
  // outside the lock), retunes the others, and appends the keys still to
  // create to `to_create`.
  std::vector<std::shared_ptr<Source>> RetuneLocked(
      const std::map<std::string, Want>& wanted,
      std::vector<std::string>& to_create) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates the source of `key` and subscribes to its notifications
  // (outside the lock: a source may resolve names or start a thread).
  Entry NewEntry(const std::string& key, const Want& want)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Schedule() ABSL_LOCKS_EXCLUDED(mu_);
  void Work() ABSL_LOCKS_EXCLUDED(mu_);
  void ReadOne(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration Jittered(absl::Duration interval)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SourceFactory factory_;
  const Clock& clock_;
  const SamplerOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // scheduler: new work, stop, notifications
  absl::CondVar work_cv_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void(const std::vector<PolicyKey>&)> on_notified_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_SAMPLER_H_
