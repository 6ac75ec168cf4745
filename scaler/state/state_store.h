// Where a policy's memory lives across evaluations, restarts and replicas:
// the engine's history (recommendations inside the windows, scale events
// inside the rate periods), the last decision with its explanation, and the
// lease that makes exactly one replica evaluate a policy at a time.
//
// Two implementations: MemoryStateStore (the embedded default: one replica,
// nothing survives a restart) and RedisStateStore (shared by every replica;
// records and leases expire by TTL, so abandoned policies go away).
//
//   std::unique_ptr<StateStore> store = MakeMemoryStateStore(clock);
//   absl::StatusOr<Lease> lease = store->AcquireOrRenew(key, "pod-a", ttl, d);
//   if (lease.ok() && lease->holder == "pod-a") {
//     ... Decide() ...
//     absl::Status s = store->Save(key, record, *lease, record_ttl, d);
//   }
//   // Or many policies' leases in one round trip:
//   absl::StatusOr<std::vector<LeaseOutcome>> leases =
//       store->UpkeepLeases(requests, "pod-a", ttl, d);
//
// Every call is bounded by its `deadline` (on the store's Clock). Errors:
// UNAVAILABLE / DEADLINE_EXCEEDED when the store cannot be reached (the
// caller then runs degraded), FAILED_PRECONDITION when a fenced write lost
// its lease, UNAUTHENTICATED when AUTH is refused. Messages never hold a
// secret. Implementations are thread-safe.
#ifndef SIGNALSCALER_SCALER_STATE_STATE_STORE_H_
#define SIGNALSCALER_SCALER_STATE_STATE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "scaler/common/clock.h"
#include "scaler/engine/decision.h"
#include "scaler/policy/policy_key.h"

namespace signalscaler {

// What is kept per policy.
struct PolicyRecord {
  EngineState engine;
  // The last decision, with its explanation (signals, reasons, history), so
  // that a replica that did not compute it can answer KEDA and `explain`.
  // Null when the policy never had one.
  std::shared_ptr<const Decision> decision;
  // When this history began (the policy's first evaluation anywhere): a
  // replica knows whether its history covers a whole scale-down window.
  absl::Time history_since = absl::InfinitePast();
  // +1 by every saved decision of the policy, across replicas: a reader
  // keeps the highest it has seen and never goes back.
  uint64_t sequence = 0;
  std::string evaluated_by;  // the replica that made the last decision
  uint64_t epoch = 0;        // the lease epoch it was made under
};

// The right to evaluate one policy. `epoch` grows by one with every new
// acquisition of the policy's lease (never by a renewal): it fences writes of
// a holder that lost its lease without knowing it.
struct Lease {
  std::string holder;  // a replica id
  uint64_t epoch = 0;
  // Local time until which the holder may act: the time the request was
  // sent plus the TTL (a conservative bound). Past for another's lease.
  absl::Time valid_until = absl::InfinitePast();
};

// One policy's part of a lease upkeep (StateStore::UpkeepLeases).
struct LeaseRequest {
  PolicyKey key;
  // Unset: acquire or renew the lease, as AcquireOrRenew does. Set: give
  // this lease up, as Release does.
  std::optional<Lease> release;
};

// What became of one LeaseRequest.
struct LeaseOutcome {
  // This policy's own failure (e.g. a malformed lease value in the store);
  // the other requests of the call stand.
  absl::Status status;
  // An acquisition's lease in force afterwards (as AcquireOrRenew returns
  // it) when `status` is OK; empty for a release.
  Lease lease;
};

// One fenced save among many (StateStore::SaveMany).
struct SaveRequest {
  PolicyKey key;
  const PolicyRecord* record = nullptr;  // not owned; outlives the call
  Lease lease;
};

// A live replica, as Announce() reports it.
struct LiveReplica {
  std::string id;
  // What it announced it serves (the bytes it passed to Announce), or null
  // when it announced nothing (a store or a replica without announcements):
  // callers then take it to serve every policy.
  std::shared_ptr<const std::string> serves;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // "memory" or "redis", for metrics and logs.
  virtual absl::string_view kind() const = 0;
  // True when other replicas see what this one writes.
  virtual bool shared() const = 0;

  // The records of `keys`, in order; nullopt for a policy without one (new,
  // or expired). A record that cannot be decoded is nullopt too (and
  // logged once, naming the policy).
  virtual absl::StatusOr<std::vector<std::optional<PolicyRecord>>> Load(
      absl::Span<const PolicyKey> keys, absl::Time deadline) = 0;

  // Atomically replaces the record of `key` (history, decision and all, in
  // one MULTI/EXEC or script), expiring after `ttl`, if and only if `lease`
  // is still the policy's current lease: FAILED_PRECONDITION otherwise. Then
  // tells every Watch()er.
  virtual absl::Status Save(const PolicyKey& key, const PolicyRecord& record,
                            const Lease& lease, absl::Duration ttl,
                            absl::Time deadline) = 0;

  // Acquires the lease of `key` for `replica` if it is free, or renews it if
  // `replica` holds it already (same epoch), for `ttl`. Returns the lease in
  // force afterwards: its holder is `replica` when it is ours, another
  // replica's id (and valid_until past) when not.
  virtual absl::StatusOr<Lease> AcquireOrRenew(const PolicyKey& key,
                                               const std::string& replica,
                                               absl::Duration ttl,
                                               absl::Time deadline) = 0;

  // Gives the lease up at once if `lease` is still in force (a no-op
  // otherwise), so another replica can take it without waiting for the TTL.
  virtual absl::Status Release(const PolicyKey& key, const Lease& lease,
                               absl::Time deadline) = 0;

  // Announces `replica` alive for `ttl` and returns every replica alive
  // (including this one), sorted.
  virtual absl::StatusOr<std::vector<std::string>> Heartbeat(
      const std::string& replica, absl::Duration ttl, absl::Time deadline) = 0;

  // The calls below do the work of many of the calls above at once: a Redis
  // store pipelines them (all sent, then all read: one round trip per
  // 1,000), the memory store takes its lock once. Each fails as a whole, or
  // not at all: UNAVAILABLE, DEADLINE_EXCEEDED or UNAUTHENTICATED when the
  // store cannot be reached (some of the work may then have been done, as a
  // single call's may), INVALID_ARGUMENT for an unusable ttl or replica id.
  // Otherwise each request's own error is in its place in the result. The
  // defaults loop over the single calls (stopping at the first outage).

  // Each request in order: acquires or renews the lease of its key for
  // `replica` (as AcquireOrRenew, for `ttl`), or releases the lease it
  // names (as Release). The outcomes are in the requests' order.
  virtual absl::StatusOr<std::vector<LeaseOutcome>> UpkeepLeases(
      absl::Span<const LeaseRequest> requests, const std::string& replica,
      absl::Duration ttl, absl::Time deadline);

  // Each request as Save() (records expiring after `ttl`), in order: OK,
  // FAILED_PRECONDITION (the lease was lost), or that save's own error.
  virtual absl::StatusOr<std::vector<absl::Status>> SaveMany(
      absl::Span<const SaveRequest> requests, absl::Duration ttl,
      absl::Time deadline);

  // Heartbeat() that also announces what `replica` serves: `serves`, bytes
  // of the caller's choosing (null: nothing). Returns every replica alive
  // with what it announced last, sorted by id. The store keeps one copy of
  // each distinct `serves` (replicas serving the same policies share it),
  // and returns the same pointer for the same bytes while they last, so a
  // caller can cache what it made of them. The default announces nothing:
  // Heartbeat(), every `serves` null.
  virtual absl::StatusOr<std::vector<LiveReplica>> Announce(
      const std::string& replica, std::shared_ptr<const std::string> serves,
      absl::Duration ttl, absl::Time deadline);

  // Calls `on_saved` (from a thread of the store's) whenever any replica
  // saves a record, so that readers refresh at once instead of at their next
  // poll. Best effort: a lost notification only delays a refresh. At most
  // one watcher: a new call replaces it, Watch(nullptr) removes it, and once
  // either returns the old one is never called again. The store stops
  // calling before its destructor returns.
  virtual void Watch(std::function<void(const PolicyKey&)> on_saved) = 0;
};

// The embedded default: maps in this process, with the same lease, fencing,
// TTL and membership semantics as the shared store, on `clock` (which must
// outlive it). With one replica its leases are always that replica's; several
// evaluators of one process may share it (tests). Watch() never calls: its
// readers poll.
std::unique_ptr<StateStore> MakeMemoryStateStore(const Clock& clock);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_STATE_STATE_STORE_H_
