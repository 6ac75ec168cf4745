#include "sources/sampler.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/policy/defaults.h"
#include "sources/observer.h"

namespace signalscaler {
namespace {

// The sources a policy samples: its signals' and its replicas sources.
std::vector<const v1::Source*> SampledSources(const v1::PolicySpec& spec) {
  std::vector<const v1::Source*> out;
  for (const v1::Signal& s : spec.signals()) out.push_back(&s.source());
  if (spec.has_replicas()) out.push_back(&spec.replicas());
  if (spec.has_ready_replicas()) out.push_back(&spec.ready_replicas());
  return out;
}

}  // namespace

std::string SampleKey(const v1::Source& source) {
  if (source.kind_case() == v1::Source::KIND_NOT_SET || source.has_push()) {
    return "";
  }
  v1::Source key = source;
  key.clear_interval_seconds();
  // Text format prints map entries sorted: equal specs, equal keys.
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(key, &text);
  return text;
}

std::string QueryId(const std::string& key) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across processes
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrCat(absl::Hex(h >> 32, absl::kZeroPad8));
}

Sampler::Sampler(SourceFactory factory, const Clock& clock,
                 SamplerOptions options)
    : factory_(std::move(factory)),
      clock_(clock),
      options_(options),
      rng_(options.seed) {}

Sampler::~Sampler() {
  Stop();
  // Destroy the sources (and their notifier threads) before the rest.
  std::map<std::string, Entry> entries;
  {
    absl::MutexLock lock(&mu_);
    entries.swap(entries_);
  }
}

absl::Duration Sampler::Jittered(absl::Duration interval) {
  std::uniform_real_distribution<double> u(-options_.jitter, options_.jitter);
  return interval * (1.0 + u(rng_));
}

std::map<std::string, Sampler::Want> Sampler::Wanted(
    const std::vector<LoadedPolicy>& policies) {
  std::map<std::string, Want> wanted;
  for (const LoadedPolicy& p : policies) {
    const v1::PolicySpec& spec = p.policy.spec();
    const PolicyKey user = KeyOf(p.policy);
    for (const v1::Source* source : SampledSources(spec)) {
      const std::string key = SampleKey(*source);
      if (key.empty()) continue;
      Want& w = wanted[key];
      w.spec = *source;
      w.interval = std::min(w.interval, SourceInterval(spec, *source));
      w.users.insert(user);
    }
  }
  return wanted;
}

void Sampler::Update(const std::vector<LoadedPolicy>& policies) {
  const std::map<std::string, Want> wanted = Wanted(policies);
  // Sources are created and destroyed outside the lock (they may resolve
  // names or stop threads).
  std::vector<std::string> to_create;
  std::vector<std::shared_ptr<Source>> to_destroy;
  {
    absl::MutexLock lock(&mu_);
    to_destroy = RetuneLocked(wanted, to_create);
  }
  to_destroy.clear();

  for (const std::string& key : to_create) {
    Entry e = NewEntry(key, wanted.at(key));
    absl::MutexLock lock(&mu_);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    // The first poll comes soon (a new scaler, or a new policy, answers
    // UNAVAILABLE until then), spread over at most a second; later polls
    // drift apart by their +/-10 % jitter.
    e.next_due =
        clock_.Now() + std::min(e.interval, absl::Seconds(1)) * u(rng_);
    entries_[key] = std::move(e);
  }
  cv_.SignalAll();
}

std::vector<std::shared_ptr<Source>> Sampler::RetuneLocked(
    const std::map<std::string, Want>& wanted,
    std::vector<std::string>& to_create) {
  std::vector<std::shared_ptr<Source>> to_destroy;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wanted.count(it->first) == 0) {
      Metrics::Get().ForgetSourceQuery(it->second.kind, it->second.query_id);
      to_destroy.push_back(std::move(it->second.source));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  const absl::Time now = clock_.Now();
  for (const auto& [key, w] : wanted) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      to_create.push_back(key);
      continue;
    }
    Entry& e = it->second;
    if (w.interval < e.interval)
      e.next_due = std::min(e.next_due, now + w.interval);
    e.interval = w.interval;
    e.users.assign(w.users.begin(), w.users.end());
  }
  return to_destroy;
}

Sampler::Entry Sampler::NewEntry(const std::string& key, const Want& w) {
  Entry e;
  e.interval = w.interval;
  e.kind = SourceKindName(w.spec);
  e.query_id = QueryId(key);
  e.users.assign(w.users.begin(), w.users.end());
  absl::StatusOr<std::unique_ptr<Source>> s = factory_(w.spec);
  if (!s.ok()) {
    e.create_error = s.status();
    LogError("cannot create source", {{"error", s.status().ToString()}});
    return e;
  }
  e.source = std::shared_ptr<Source>(std::move(*s));
  absl::Status sub = e.source->Subscribe([this, key] {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    it->second.notified = true;
    it->second.next_due = clock_.Now();
    cv_.SignalAll();
  });
  if (!sub.ok() && sub.code() != absl::StatusCode::kUnimplemented) {
    LogWarn("source notifications unavailable; polling only",
            {{"source", e.source->Describe()},
             {"error", std::string(sub.message())}});
  }
  return e;
}

Observation Sampler::Get(const v1::Source& source) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(SampleKey(source));
  if (it == entries_.end()) {
    return Observation{std::nullopt,
                       absl::NotFoundError("this source is not sampled")};
  }
  if (!it->second.create_error.ok()) {
    return Observation{std::nullopt, it->second.create_error};
  }
  return it->second.last;
}

void Sampler::SetOnNotified(
    std::function<void(const std::vector<PolicyKey>&)> f) {
  absl::MutexLock lock(&mu_);
  on_notified_ = std::move(f);
}

void Sampler::ReadOne(const std::string& key) {
  std::shared_ptr<Source> source;
  absl::Duration interval;
  bool notified = false;  // this read answers a notification
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    source = it->second.source;
    interval = it->second.interval;
    notified = it->second.notified;
    it->second.notified = false;
  }
  const absl::Time start = clock_.Now();
  absl::StatusOr<Reading> r =
      source->Read(start + std::min(interval, options_.max_read_time));
  std::vector<PolicyKey> notify;
  std::function<void(const std::vector<PolicyKey>&)> on_notified;
  {
    absl::MutexLock lock(&mu_);
    ++reads_;
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    const absl::Time end = clock_.Now();
    Metrics::Get().RecordSourceRead(e.kind, e.query_id, r.status(), end - start,
                                    end);
    const absl::Status before = e.last.error;
    if (r.ok()) {
      e.last.reading = *r;
      e.last.error = absl::OkStatus();
    } else {
      e.last.error = r.status();
    }
    // Log transitions only: a failing source logs once, not every poll.
    if (!r.ok() && r.status() != before) {
      LogWarn(
          "source read failed; its signals hold",
          {{"source", source->Describe()}, {"error", r.status().ToString()}});
    } else if (r.ok() && !before.ok()) {
      LogInfo("source recovered", {{"source", source->Describe()}});
    }
    e.in_flight = false;
    e.next_due = start + Jittered(e.interval);
    // A notification that arrived during this read asks for another one.
    if (e.notified) e.next_due = clock_.Now();
    if (notified) {
      notify = e.users;
      on_notified = on_notified_;
    }
  }
  cv_.SignalAll();
  if (!notify.empty() && on_notified) on_notified(notify);
}

void Sampler::Schedule() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = clock_.Now();
    absl::Time next = now + absl::Seconds(1);
    for (auto& [key, e] : entries_) {
      if (e.in_flight || e.source == nullptr) continue;
      if (e.next_due <= now) {
        e.in_flight = true;
        queue_.push_back(key);
      } else {
        next = std::min(next, e.next_due);
      }
    }
    if (!queue_.empty()) work_cv_.SignalAll();
    cv_.WaitWithTimeout(&mu_, next - now);
  }
}

void Sampler::Work() {
  absl::MutexLock lock(&mu_);
  while (true) {
    while (!stopping_ && queue_.empty()) work_cv_.Wait(&mu_);
    if (stopping_) return;
    const std::string key = std::move(queue_.front());
    queue_.pop_front();
    mu_.Unlock();
    ReadOne(key);
    mu_.Lock();
  }
}

void Sampler::Start() {
  absl::MutexLock lock(&mu_);
  if (!threads_.empty()) return;
  stopping_ = false;
  threads_.emplace_back([this] { Schedule(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

void Sampler::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.SignalAll();
  work_cv_.SignalAll();
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu_);
  queue_.clear();
  for (auto& [key, e] : entries_) e.in_flight = false;
}

void Sampler::PollDue() {
  std::vector<std::string> due;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (auto& [key, e] : entries_) {
      if (!e.in_flight && e.source != nullptr && e.next_due <= now) {
        e.in_flight = true;
        due.push_back(key);
      }
    }
  }
  for (const std::string& key : due) ReadOne(key);
}

size_t Sampler::queries() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

uint64_t Sampler::reads() const {
  absl::MutexLock lock(&mu_);
  return reads_;
}

}  // namespace signalscaler
