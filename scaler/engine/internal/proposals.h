// Step 1 and 2 of "Decision (normative)": one proposal per signal, combined
// by max. Also classifies observations (ok, stale, missing, error), which the
// engine reuses for the replicas sources.
#ifndef SIGNALSCALER_SCALER_ENGINE_INTERNAL_PROPOSALS_H_
#define SIGNALSCALER_SCALER_ENGINE_INTERNAL_PROPOSALS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"

namespace signalscaler::engine_internal {

// What an Observation amounts to at `now`.
struct Classified {
  SignalState state = SignalState::kMissing;
  std::optional<Reading> reading;  // the last good reading, even if held
  absl::Duration age = absl::ZeroDuration();
  std::string message;  // why it cannot be used; empty when kOk
};
// `obs` may be null (absent). Only kOk readings may be acted upon.
Classified Classify(const Observation* obs, absl::Duration stale_after,
                    absl::Time now);

struct ProposalInput {
  int64_t current = 0;           // the count proposals start from
  std::optional<int64_t> ready;  // fresh ready count, if known
  bool zero_allowed = false;     // minReplicas is 0
  absl::Time now;
  // The load histories of the signals with a forecast (EngineState's),
  // updated with the usable readings; null: no forecast (the count the
  // proposals start from is not known).
  std::vector<LoadHistory>* load_history = nullptr;
};

struct Proposals {
  std::vector<SignalExplanation> signals;  // in policy order
  std::vector<Reason> reasons;  // held, within band, woke from zero, won
  int64_t desired = 0;          // max of the proposals
  std::string winner;
  std::string first_held;    // the first held signal, if any
  bool has_total = false;    // the policy has a Total signal
  bool totals_quiet = true;  // every fresh Total <= its activation
  // Scale to zero is allowed: minReplicas 0, a Total signal, every Total at or
  // below its activation and nothing held. Then every signal that does not
  // ask for more (a quiet Total, an Average or Headroom in its scale-down
  // zone) proposes 0: all agree, the service goes to zero.
  bool zero_ok = false;
};

Proposals Propose(const v1::PolicySpec& spec, const Inputs& inputs,
                  const ProposalInput& in);

}  // namespace signalscaler::engine_internal

#endif  // SIGNALSCALER_SCALER_ENGINE_INTERNAL_PROPOSALS_H_
