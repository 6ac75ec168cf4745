#include "scaler/server/admin_logic.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "scaler/policy/defaults.h"
#include "sources/observer.h"

namespace signalscaler {
namespace {

// The source a pushed name refers to: a signal, or the replicas pseudo-signals.
const v1::Source* FindPushTarget(const v1::PolicySpec& spec,
                                 const std::string& name) {
  for (const v1::Signal& s : spec.signals()) {
    if (s.name() == name) return &s.source();
  }
  if (name == kReplicasSignal && spec.has_replicas()) return &spec.replicas();
  if (name == kReadyReplicasSignal && spec.has_ready_replicas()) {
    return &spec.ready_replicas();
  }
  return nullptr;
}

double ToUnix(absl::Time t) {
  return absl::ToDoubleSeconds(t - absl::UnixEpoch());
}

void AddSignal(const SignalExplanation& s, admin::v1::PolicyDecision& out) {
  admin::v1::SignalExplanation* e = out.add_signals();
  e->set_name(s.name);
  e->set_state(SignalStateName(s.state));
  e->set_has_value(s.value.has_value());
  if (s.value) e->set_value(*s.value);
  e->set_age_seconds(absl::ToDoubleSeconds(s.age));
  e->set_proposal(s.proposal);
  e->set_message(s.message);
}

admin::v1::PolicyDecision ExplainOne(const LoadedPolicy& loaded,
                                     const DecisionBoard& board) {
  admin::v1::PolicyDecision out;
  const PolicyKey key = KeyOf(loaded.policy);
  out.set_namespace_(key.ns);
  out.set_policy(key.name);
  out.set_shadow(IsShadow(loaded.policy.spec()));
  // The decision and its fleet view, read together.
  std::shared_ptr<const Decision> d;
  absl::StatusOr<FleetView> fleet = board.Fleet(key, &d);
  if (!fleet.ok()) {
    out.set_has_decision(false);
    out.set_unavailable_reason(std::string(fleet.status().message()));
    // Every signal from its first attempt on: why a source never worked.
    for (const SignalExplanation& s : board.SignalsWithoutDecision(key)) {
      AddSignal(s, out);
    }
    return out;
  }
  const Decision& dec = *d;
  out.set_has_decision(true);
  out.set_replicas(dec.replicas);
  out.set_current(dec.current);
  out.set_has_fleet_replicas(fleet->fleet.has_value());
  out.set_fleet_replicas(fleet->fleet.value_or(0));
  out.set_shadow_short_replica_seconds(fleet->short_replica_seconds);
  out.set_shadow_excess_replica_seconds(fleet->excess_replica_seconds);
  out.set_decided_time_unix(ToUnix(dec.time));
  out.set_winner(dec.winner);
  for (const SignalExplanation& s : dec.signals) AddSignal(s, out);
  for (const Reason& r : dec.reasons) {
    admin::v1::Reason* e = out.add_reasons();
    e->set_code(ReasonCodeName(r.code));
    e->set_text(RenderReason(r));
  }
  out.set_max_replicas(dec.max_replicas);
  // Built now, not kept with every decision.
  const DecisionHistory history = board.History(key, dec.time);
  for (const Recommendation& r : history.recommendations) {
    admin::v1::HistoryEntry* h = out.add_recommendations();
    h->set_time_unix(ToUnix(r.time));
    h->set_replicas(r.replicas);
  }
  for (const ScaleEvent& ev : history.scale_events) {
    admin::v1::HistoryEntry* h = out.add_scale_events();
    h->set_time_unix(ToUnix(ev.time));
    h->set_replicas(ev.to);
    h->set_from(ev.from);
  }
  return out;
}

}  // namespace

absl::StatusOr<admin::v1::PushResponse> RecordPush(
    const admin::v1::PushRequest& req, const PolicySnapshot& snap,
    PushStore& store, Evaluator& evaluator, absl::Time now) {
  if (req.namespace_().empty() || req.policy().empty() ||
      req.signal().empty()) {
    return absl::InvalidArgumentError(
        "push needs namespace, policy and signal, all non-empty");
  }
  if (!std::isfinite(req.value())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pushed value for signal \"", req.signal(), "\" is not finite"));
  }
  const PolicyKey key{req.namespace_(), req.policy()};
  const LoadedPolicy* loaded = snap.Find(key);
  if (loaded == nullptr) {
    return absl::NotFoundError(absl::StrCat("no policy \"", req.policy(),
                                            "\" in namespace \"",
                                            req.namespace_(), "\""));
  }
  const v1::Source* source =
      FindPushTarget(loaded->policy.spec(), req.signal());
  if (source == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "policy ", key.ToString(), " has no signal \"", req.signal(), "\""));
  }
  if (!source->has_push()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "signal \"", req.signal(), "\" of policy ", key.ToString(),
        " is not a push signal (its source is ", SourceKindName(*source), ")"));
  }
  absl::Time sample = now;
  if (req.sample_time_unix() != 0) {
    if (!std::isfinite(req.sample_time_unix()) || req.sample_time_unix() < 0) {
      return absl::InvalidArgumentError("sample_time_unix is not a valid time");
    }
    sample = absl::UnixEpoch() + absl::Seconds(req.sample_time_unix());
    if (sample > now + kMaxPushFutureSkew) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sample time is ", absl::FormatDuration(sample - now),
          " in the future (more than ",
          absl::FormatDuration(kMaxPushFutureSkew), " of clock skew)"));
    }
    // Within the skew allowed, a time ahead is the pusher's clock: the
    // reading was taken no later than it arrived. Never dated in the future,
    // it can neither outlive its staleness nor outrank a later push.
    sample = std::min(sample, now);
  }
  store.Record(key, req.signal(), Reading{req.value(), sample});
  // Evaluate at once; the push itself has succeeded whatever the outcome.
  evaluator.EvaluateNow(key).IgnoreError();
  admin::v1::PushResponse resp;
  resp.set_received_time_unix(ToUnix(now));
  return resp;
}

absl::StatusOr<admin::v1::ExplainResponse> Explain(
    const admin::v1::ExplainRequest& req, const PolicySnapshot& snap,
    const DecisionBoard& board, const NamespaceVisible& visible) {
  admin::v1::ExplainResponse resp;
  if (!req.policy().empty()) {
    if (req.namespace_().empty()) {
      return absl::InvalidArgumentError(
          "explain of a policy needs its namespace");
    }
    const LoadedPolicy* p = snap.Find({req.namespace_(), req.policy()});
    if (p == nullptr) {
      return absl::NotFoundError(absl::StrCat("no policy \"", req.policy(),
                                              "\" in namespace \"",
                                              req.namespace_(), "\""));
    }
    *resp.add_decisions() = ExplainOne(*p, board);
    return resp;
  }
  for (const LoadedPolicy& p : snap.policies()) {
    const std::string& ns = p.policy.metadata().namespace_();
    if (!req.namespace_().empty() && ns != req.namespace_()) continue;
    if (visible != nullptr && !visible(ns)) continue;
    *resp.add_decisions() = ExplainOne(p, board);
  }
  return resp;
}

admin::v1::PoliciesResponse ListPolicies(const PolicyReloader* reloader,
                                         const std::string& source,
                                         const PolicySnapshot& snap,
                                         const NamespaceVisible& visible) {
  admin::v1::PoliciesResponse resp;
  resp.set_source(source);
  if (reloader == nullptr) {
    admin::v1::PolicyFile* f = resp.add_files();
    f->set_path(source);
    f->set_ok(true);
    for (const LoadedPolicy& p : snap.policies()) {
      if (visible != nullptr && !visible(p.policy.metadata().namespace_())) {
        continue;
      }
      f->add_policies(KeyOf(p.policy).ToString());
    }
    return resp;
  }
  for (const PolicyFileStatus& st : reloader->Status()) {
    bool any = visible == nullptr;
    // A file whose errors name no policy may hold another namespace's
    // documents: only a caller who reads every namespace sees its errors.
    bool all = visible == nullptr || st.namespaces_known;
    for (const std::string& ns : st.namespaces) {
      const bool readable = visible == nullptr || visible(ns);
      any |= readable;
      all &= readable;
    }
    if (!any) continue;
    admin::v1::PolicyFile* f = resp.add_files();
    f->set_path(st.file);
    f->set_ok(st.ok);
    if (all) {
      for (const std::string& e : st.errors) f->add_errors(e);
    } else if (!st.errors.empty()) {
      f->add_errors(
          absl::StrCat(st.errors.size(),
                       " error(s) withheld: the file also declares policies of "
                       "namespaces this client may not read"));
    }
    for (const std::string& p : st.serving) {
      const size_t slash = p.find('/');
      if (visible != nullptr && !visible(p.substr(0, slash))) continue;
      f->add_policies(p);
    }
  }
  if (visible == nullptr) {
    resp.set_reloads(reloader->reloads());
    resp.set_rejected_files(reloader->rejected());
  }
  return resp;
}

}  // namespace signalscaler
