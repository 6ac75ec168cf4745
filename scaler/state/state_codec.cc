#include "scaler/state/state_codec.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/state.pb.h"
#include "scaler/state/internal/time_column.h"

namespace signalscaler {
namespace {

namespace pb = ::signalscaler::state::v1;
using state_internal::DurationToMs;
using state_internal::MsToDuration;
using state_internal::MsToTime;
using state_internal::TimeColumnReader;
using state_internal::TimeColumnWriter;
using state_internal::TimeToMs;

template <typename Container>
void PutRecommendations(const Container& in, pb::Recommendations* out) {
  out->mutable_time_ms()->Reserve(static_cast<int>(in.size()));
  out->mutable_replicas()->Reserve(static_cast<int>(in.size()));
  TimeColumnWriter times(out->mutable_time_ms());
  for (const Recommendation& r : in) {
    times.Add(r.time);
    out->add_replicas(r.replicas);
  }
}

template <typename Container>
void PutScaleEvents(const Container& in, pb::ScaleEvents* out) {
  TimeColumnWriter times(out->mutable_time_ms());
  for (const ScaleEvent& e : in) {
    times.Add(e.time);
    out->add_from(e.from);
    out->add_to(e.to);
  }
}

template <typename Container>
absl::Status GetRecommendations(const pb::Recommendations& in,
                                absl::string_view where, Container& out) {
  if (in.replicas_size() != in.time_ms_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state record: ", where, " has ", in.time_ms_size(),
                     " times but ", in.replicas_size(), " replica counts"));
  }
  TimeColumnReader times;
  for (int i = 0; i < in.time_ms_size(); ++i) {
    out.push_back(Recommendation{times.Next(in.time_ms(i)), in.replicas(i)});
  }
  return absl::OkStatus();
}

template <typename Container>
absl::Status GetScaleEvents(const pb::ScaleEvents& in, absl::string_view where,
                            Container& out) {
  if (in.from_size() != in.time_ms_size() ||
      in.to_size() != in.time_ms_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state record: ", where, " has ", in.time_ms_size(), " times, ",
        in.from_size(), " from and ", in.to_size(), " to counts"));
  }
  TimeColumnReader times;
  for (int i = 0; i < in.time_ms_size(); ++i) {
    out.push_back(ScaleEvent{times.Next(in.time_ms(i)), in.from(i), in.to(i)});
  }
  return absl::OkStatus();
}

// A number this build names (decision.cc's name tables follow the enums,
// so a code appended there is known here without another list to update).
bool KnownSignalState(uint32_t n) {
  return n <= static_cast<uint32_t>(std::numeric_limits<int>::max()) &&
         std::strcmp(SignalStateName(static_cast<SignalState>(n)), "unknown") !=
             0;
}
bool KnownReasonCode(uint32_t n) {
  return n <= static_cast<uint32_t>(std::numeric_limits<int>::max()) &&
         std::strcmp(ReasonCodeName(static_cast<ReasonCode>(n)), "unknown") !=
             0;
}

void PutDecision(const Decision& d, pb::Decision* out) {
  out->set_replicas(d.replicas);
  out->set_current(d.current);
  out->set_desired(d.desired);
  out->set_max_replicas(d.max_replicas);
  out->set_time_ms(TimeToMs(d.time));
  out->set_winner(d.winner);
  for (const SignalExplanation& s : d.signals) {
    pb::SignalExplanation* e = out->add_signals();
    e->set_name(s.name);
    e->set_state(static_cast<uint32_t>(s.state));
    if (s.value.has_value()) e->set_value(*s.value);
    e->set_age_ms(DurationToMs(s.age));
    e->set_proposal(s.proposal);
    e->set_message(s.message);
  }
  for (const Reason& r : d.reasons) {
    pb::Reason* e = out->add_reasons();
    e->set_code(static_cast<uint32_t>(r.code));
    e->set_subject(r.subject);
    e->set_a(r.a);
    e->set_b(r.b);
    e->set_c(r.c);
  }
  // A decision's history is its state's (HistoryAsOf in engine.h), saved
  // with it in the record.
  out->set_history_is_engine_state(true);
}

absl::StatusOr<std::shared_ptr<const Decision>> GetDecision(
    const pb::Decision& in) {
  auto d = std::make_shared<Decision>();
  d->replicas = in.replicas();
  d->current = in.current();
  d->desired = in.desired();
  d->max_replicas = in.max_replicas();
  d->time = MsToTime(in.time_ms());
  d->winner = in.winner();
  d->signals.reserve(static_cast<size_t>(in.signals_size()));
  for (const pb::SignalExplanation& e : in.signals()) {
    SignalExplanation s;
    s.name = e.name();
    s.state = KnownSignalState(e.state()) ? static_cast<SignalState>(e.state())
                                          : SignalState::kMissing;
    if (e.has_value()) s.value = e.value();
    s.age = MsToDuration(e.age_ms());
    s.proposal = e.proposal();
    s.message = e.message();
    d->signals.push_back(std::move(s));
  }
  for (const pb::Reason& e : in.reasons()) {
    if (!KnownReasonCode(e.code())) continue;  // from a newer version
    d->reasons.push_back(Reason{static_cast<ReasonCode>(e.code()), e.subject(),
                                e.a(), e.b(), e.c()});
  }
  // A history of the decision's own (a record of an earlier version, whose
  // decisions carried a copy) is not read: the record's engine state is
  // the one `explain` shows.
  return std::shared_ptr<const Decision>(std::move(d));
}

void PutEngineState(const EngineState& in, pb::EngineState* out) {
  PutRecommendations(in.recommendations, out->mutable_recommendations());
  PutScaleEvents(in.scale_events, out->mutable_scale_events());
  if (in.last_decision.has_value()) out->set_last_decision(*in.last_decision);
  out->set_ever_had_reading(in.ever_had_reading);
  for (const LoadHistory& h : in.load_history) {
    pb::LoadHistory* out_h = out->add_load_history();
    out_h->set_signal(h.signal);
    TimeColumnWriter times(out_h->mutable_time_ms());
    for (const LoadPoint& p : h.points) {
      times.Add(p.time);
      out_h->add_load(p.load);
    }
  }
}

// One signal's load history, bounded and in time order; `seen` are the
// histories read before it (a signal has one).
absl::StatusOr<LoadHistory> GetLoadHistory(
    const pb::LoadHistory& h, const std::vector<LoadHistory>& seen) {
  if (h.load_size() != h.time_ms_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine.load_history: ", h.time_ms_size(), " times for ",
                     h.load_size(), " loads"));
  }
  // A forecast keeps kMaxLoadPoints; a merge of two replicas' at most
  // twice that until the next evaluation thins it.
  if (h.time_ms_size() > static_cast<int>(2 * kMaxLoadPoints)) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine.load_history: ", h.time_ms_size(),
                     " points; at most ", 2 * kMaxLoadPoints));
  }
  for (const LoadHistory& other : seen) {
    if (other.signal == h.signal()) {
      return absl::InvalidArgumentError(
          "engine.load_history: a signal's history twice");
    }
  }
  LoadHistory out;
  out.signal = h.signal();
  TimeColumnReader times;
  absl::Time previous = absl::InfinitePast();
  for (int i = 0; i < h.time_ms_size(); ++i) {
    const absl::Time t = times.Next(h.time_ms(i));
    if (t < previous) {
      return absl::InvalidArgumentError(
          "engine.load_history: times out of order");
    }
    previous = t;
    if (!std::isfinite(h.load(i))) {
      return absl::InvalidArgumentError(
          "engine.load_history: a load that is not a finite number");
    }
    out.points.push_back(LoadPoint{t, h.load(i)});
  }
  return out;
}

absl::Status GetEngineState(const pb::EngineState& in, EngineState& out) {
  absl::Status s = GetRecommendations(
      in.recommendations(), "engine.recommendations", out.recommendations);
  if (!s.ok()) return s;
  s = GetScaleEvents(in.scale_events(), "engine.scale_events",
                     out.scale_events);
  if (!s.ok()) return s;
  if (in.has_last_decision()) out.last_decision = in.last_decision();
  out.ever_had_reading = in.ever_had_reading();
  for (const pb::LoadHistory& h : in.load_history()) {
    absl::StatusOr<LoadHistory> history = GetLoadHistory(h, out.load_history);
    if (!history.ok()) return history.status();
    out.load_history.push_back(*std::move(history));
  }
  return absl::OkStatus();
}

// `bytes` as a record's message, if they are one in a format this version
// reads.
absl::Status ParseRecord(absl::string_view bytes, pb::PolicyRecord& in) {
  if (bytes.size() > kMaxStateRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("state record of ", bytes.size(), " bytes is over the ",
                     kMaxStateRecordBytes, "-byte limit"));
  }
  if (!in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a state record (", bytes.size(),
                     " bytes that do not parse as signalscaler.state.v1."
                     "PolicyRecord)"));
  }
  if (in.format() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a state record (", bytes.size(), " bytes without a format)"));
  }
  if (in.format() > kStateRecordFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("state record in format ", in.format(),
                     ", written by a newer version (this one reads up to ",
                     kStateRecordFormat, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeRecord(const PolicyRecord& record) {
  pb::PolicyRecord out;
  out.set_format(kStateRecordFormat);
  PutEngineState(record.engine, out.mutable_engine());
  if (record.decision != nullptr) {
    PutDecision(*record.decision, out.mutable_decision());
  }
  if (record.history_since != absl::InfinitePast()) {
    out.set_history_since_ms(TimeToMs(record.history_since));
  }
  out.set_sequence(record.sequence);
  out.set_evaluated_by(record.evaluated_by);
  out.set_epoch(record.epoch);
  return out.SerializeAsString();
}

absl::StatusOr<PolicyRecord> DecodeRecord(absl::string_view bytes) {
  pb::PolicyRecord in;
  absl::Status s = ParseRecord(bytes, in);
  if (!s.ok()) return s;
  PolicyRecord out;
  s = GetEngineState(in.engine(), out.engine);
  if (!s.ok()) return s;
  if (in.has_decision()) {
    absl::StatusOr<std::shared_ptr<const Decision>> d =
        GetDecision(in.decision());
    if (!d.ok()) return d.status();
    out.decision = *std::move(d);
  }
  out.history_since = in.has_history_since_ms()
                          ? MsToTime(in.history_since_ms())
                          : absl::InfinitePast();
  out.sequence = in.sequence();
  out.evaluated_by = in.evaluated_by();
  out.epoch = in.epoch();
  return out;
}

}  // namespace signalscaler
