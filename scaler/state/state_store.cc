// StateStore's defaults for the calls that do many at once: loops over the
// single calls, for stores that have nothing better (tests' fakes). The
// memory and Redis stores override them.
#include "scaler/state/state_store.h"

#include <utility>

namespace signalscaler {
namespace {

// Errors that stop a loop: the store as a whole cannot be reached, or the
// call's arguments are unusable for every request alike.
bool FailsTheCall(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsUnauthenticated(s) || absl::IsInvalidArgument(s);
}

}  // namespace

absl::StatusOr<std::vector<LeaseOutcome>> StateStore::UpkeepLeases(
    absl::Span<const LeaseRequest> requests, const std::string& replica,
    absl::Duration ttl, absl::Time deadline) {
  std::vector<LeaseOutcome> out(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const LeaseRequest& r = requests[i];
    if (r.release.has_value()) {
      out[i].status = Release(r.key, *r.release, deadline);
    } else {
      absl::StatusOr<Lease> lease =
          AcquireOrRenew(r.key, replica, ttl, deadline);
      if (lease.ok()) {
        out[i].lease = *std::move(lease);
      } else {
        out[i].status = lease.status();
      }
    }
    if (FailsTheCall(out[i].status)) return out[i].status;
  }
  return out;
}

absl::StatusOr<std::vector<absl::Status>> StateStore::SaveMany(
    absl::Span<const SaveRequest> requests, absl::Duration ttl,
    absl::Time deadline) {
  std::vector<absl::Status> out;
  out.reserve(requests.size());
  for (const SaveRequest& r : requests) {
    out.push_back(Save(r.key, *r.record, r.lease, ttl, deadline));
    if (FailsTheCall(out.back())) return out.back();
  }
  return out;
}

absl::StatusOr<std::vector<LiveReplica>> StateStore::Announce(
    const std::string& replica, std::shared_ptr<const std::string> /*serves*/,
    absl::Duration ttl, absl::Time deadline) {
  absl::StatusOr<std::vector<std::string>> alive =
      Heartbeat(replica, ttl, deadline);
  if (!alive.ok()) return alive.status();
  std::vector<LiveReplica> out;
  out.reserve(alive->size());
  for (std::string& id : *alive) out.push_back(LiveReplica{std::move(id), {}});
  return out;
}

}  // namespace signalscaler
