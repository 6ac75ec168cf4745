// How a replica's own copy of a policy's history meets the shared one (the
// README's "High availability" rules). Pure functions: no I/O, no clock, no
// gRPC; the Evaluator calls them, tests/server/history_merge_test.cc pins
// every rule.
//
//   LocalHistory h = SyncWithShared(std::move(h), std::move(record), true);
//   if (IsNewer(rec, seen)) AdoptSharedDecision(h, rec);
#ifndef SIGNALSCALER_SCALER_SERVER_HISTORY_MERGE_H_
#define SIGNALSCALER_SCALER_SERVER_HISTORY_MERGE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "scaler/engine/decision.h"
#include "scaler/state/state_store.h"

namespace signalscaler {

// A replica's own copy of one policy's history.
struct LocalHistory {
  EngineState engine;
  // When this history began (its first decision); InfinitePast before one.
  absl::Time since = absl::InfinitePast();
  // It holds what the store does not: decisions made here while the store
  // was out of reach (or not saved), or a restart there. Then taking the
  // lease merges it into the shared history instead of adopting that one.
  // Cleared by a saved decision.
  bool unshared = false;
};

// The highest shared record a replica has seen or written.
struct SharedMark {
  uint64_t sequence = 0;
  absl::Time time = absl::InfinitePast();  // of its decision
};

// What a replica that has just taken a lease goes on from, given the store's
// record (nullopt: none) and whether the store is shared:
//   - "Failover" / "Restarts keep the windows": nothing unshared here, so
//     the shared history and its start, as they are.
//   - "Redis back": unshared local history is merged into the shared one:
//     both histories ordered by time without exact duplicates, the newer
//     last decision (local: its last recommendation's time; shared: its
//     decision's), the earlier start, a reading if either had one, and
//     per signal both sides' forecast readings by time.
//   - no record on a shared store that answered: none was lost (a new
//     policy), so the history is known; on a store of this process, as it
//     was (it may have been lost in a restart).
// `unshared` is kept: only a saved decision clears it.
LocalHistory SyncWithShared(LocalHistory local,
                            std::optional<PolicyRecord> shared,
                            bool store_is_shared);

// "Redis unreachable": the local history restarts now from the last decision
// known (`published`, the count last answered, else the history's own), so
// that no scale-down happens before a full scale-down window of local
// history exists (Decide() seeds the window with that count) while scale-ups
// stay immediate. Scale events are kept (rate periods go on: they are facts,
// whoever recorded them), and so are the forecast's readings. The result is
// unknown history (a restart) and unshared.
LocalHistory RestartLocally(LocalHistory old, std::optional<int64_t> published,
                            absl::Time now);

// "One answer": no replica ever goes back to an older decision. A record
// replaces what a replica answers only when it is later than `seen`: a
// higher sequence, or a later decision (a new lineage after the record
// expired, which restarts the sequence).
bool IsNewer(const PolicyRecord& shared, const SharedMark& seen);

// "Redis back": a replica that kept local answers after the store came back
// at `fresh_after` (nullopt: it did not) answers from the shared record only
// once it holds a decision made after that time.
bool ReplacesLocalAnswers(const PolicyRecord& shared,
                          std::optional<absl::Time> fresh_after);

// A mirror follows the shared decision (which must not be null): its last
// decision, and the scale events of the rate periods. Its own
// recommendations stay (a later merge may need them).
void AdoptSharedDecision(LocalHistory& local, const PolicyRecord& shared);

// The record a holder saves: its history and start, the decision, the next
// sequence, who made it and under which lease epoch.
PolicyRecord RecordToSave(const LocalHistory& local,
                          std::shared_ptr<const Decision> decision,
                          uint64_t sequence, std::string evaluated_by,
                          uint64_t epoch);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_HISTORY_MERGE_H_
