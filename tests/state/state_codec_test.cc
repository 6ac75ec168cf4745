// EncodeRecord / DecodeRecord: a whole record round-trips (every reason
// code and signal state, optional fields set and unset, infinite times),
// garbage and newer formats are INVALID_ARGUMENT, values from a newer
// version are read safely, and a long history stays small.
#include "scaler/state/state_codec.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/state.pb.h"

namespace signalscaler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixMillis(1'700'000'000'123);

int LastReasonCode() {
  int n = 0;
  while (std::string(ReasonCodeName(static_cast<ReasonCode>(n + 1))) !=
         "unknown") {
    ++n;
  }
  return n;
}

// Every field set, with one reason of each code and one signal of each
// state.
PolicyRecord FullRecord() {
  PolicyRecord r;
  for (int i = 0; i < 50; ++i) {
    r.engine.recommendations.push_back(
        {kT0 + absl::Milliseconds(5000 * i + (i % 3) * 7), 3 + i % 4});
  }
  r.engine.scale_events = {{kT0, 1, 3}, {kT0 + absl::Seconds(60), 3, 2}};
  r.engine.last_decision = 4;
  r.engine.ever_had_reading = true;
  LoadHistory requests{"requests", {}};
  for (int i = 0; i < 12; ++i) {
    requests.points.push_back(
        {kT0 + absl::Milliseconds(5000 * i + i % 2), 10.25 * i + 0.125});
  }
  r.engine.load_history = {requests, LoadHistory{"cpu", {{kT0, 2.5}}}};
  auto d = std::make_shared<Decision>();
  d->replicas = 4;
  d->current = 3;
  d->desired = 6;
  d->max_replicas = 20;
  d->time = kT0 + absl::Seconds(245);
  d->winner = "jobs";
  const SignalState states[] = {SignalState::kOk, SignalState::kStale,
                                SignalState::kMissing, SignalState::kError,
                                SignalState::kInvalid};
  for (SignalState s : states) {
    SignalExplanation e;
    e.name = std::string("sig-") + SignalStateName(s);
    e.state = s;
    if (s != SignalState::kMissing) e.value = 0.55;
    e.age = absl::Milliseconds(1234);
    e.proposal = 5;
    e.message = s == SignalState::kError ? "connection refused \xff" : "";
    d->signals.push_back(e);
  }
  for (int i = 0; i <= LastReasonCode(); ++i) {
    d->reasons.push_back(
        Reason{static_cast<ReasonCode>(i), i % 2 ? "cpu" : "", 1.5 + i, 2, 3});
  }
  r.decision = d;
  r.history_since = kT0 - absl::Hours(1);
  r.sequence = 987654321;
  r.evaluated_by = "scaler-7d9f-abc";
  r.epoch = 12;
  return r;
}

void ExpectSame(const PolicyRecord& got, const PolicyRecord& want) {
  ASSERT_EQ(got.engine.recommendations.size(),
            want.engine.recommendations.size());
  for (size_t i = 0; i < want.engine.recommendations.size(); ++i) {
    EXPECT_EQ(got.engine.recommendations[i].time,
              want.engine.recommendations[i].time)
        << i;
    EXPECT_EQ(got.engine.recommendations[i].replicas,
              want.engine.recommendations[i].replicas)
        << i;
  }
  ASSERT_EQ(got.engine.scale_events.size(), want.engine.scale_events.size());
  for (size_t i = 0; i < want.engine.scale_events.size(); ++i) {
    EXPECT_EQ(got.engine.scale_events[i].time,
              want.engine.scale_events[i].time);
    EXPECT_EQ(got.engine.scale_events[i].from,
              want.engine.scale_events[i].from);
    EXPECT_EQ(got.engine.scale_events[i].to, want.engine.scale_events[i].to);
  }
  EXPECT_EQ(got.engine.last_decision, want.engine.last_decision);
  EXPECT_EQ(got.engine.ever_had_reading, want.engine.ever_had_reading);
  ASSERT_EQ(got.engine.load_history.size(), want.engine.load_history.size());
  for (size_t i = 0; i < want.engine.load_history.size(); ++i) {
    const LoadHistory& g = got.engine.load_history[i];
    const LoadHistory& w = want.engine.load_history[i];
    EXPECT_EQ(g.signal, w.signal);
    ASSERT_EQ(g.points.size(), w.points.size()) << w.signal;
    for (size_t j = 0; j < w.points.size(); ++j) {
      EXPECT_EQ(g.points[j].time, w.points[j].time) << w.signal << " " << j;
      EXPECT_EQ(g.points[j].load, w.points[j].load) << w.signal << " " << j;
    }
  }
  EXPECT_EQ(got.history_since, want.history_since);
  EXPECT_EQ(got.sequence, want.sequence);
  EXPECT_EQ(got.evaluated_by, want.evaluated_by);
  EXPECT_EQ(got.epoch, want.epoch);
  ASSERT_EQ(got.decision == nullptr, want.decision == nullptr);
  if (want.decision == nullptr) return;
  const Decision& g = *got.decision;
  const Decision& w = *want.decision;
  EXPECT_EQ(g.replicas, w.replicas);
  EXPECT_EQ(g.current, w.current);
  EXPECT_EQ(g.desired, w.desired);
  EXPECT_EQ(g.max_replicas, w.max_replicas);
  EXPECT_EQ(g.time, w.time);
  EXPECT_EQ(g.winner, w.winner);
  ASSERT_EQ(g.signals.size(), w.signals.size());
  for (size_t i = 0; i < w.signals.size(); ++i) {
    EXPECT_EQ(g.signals[i].name, w.signals[i].name);
    EXPECT_EQ(g.signals[i].state, w.signals[i].state);
    EXPECT_EQ(g.signals[i].value, w.signals[i].value);
    EXPECT_EQ(g.signals[i].age, w.signals[i].age);
    EXPECT_EQ(g.signals[i].proposal, w.signals[i].proposal);
    EXPECT_EQ(g.signals[i].message, w.signals[i].message);
  }
  ASSERT_EQ(g.reasons.size(), w.reasons.size());
  for (size_t i = 0; i < w.reasons.size(); ++i) {
    EXPECT_EQ(g.reasons[i].code, w.reasons[i].code);
    EXPECT_EQ(g.reasons[i].subject, w.reasons[i].subject);
    EXPECT_EQ(g.reasons[i].a, w.reasons[i].a);
    EXPECT_EQ(g.reasons[i].b, w.reasons[i].b);
    EXPECT_EQ(g.reasons[i].c, w.reasons[i].c);
    EXPECT_EQ(RenderReason(g.reasons[i]), RenderReason(w.reasons[i]));
  }
  EXPECT_EQ(g.Summary(), w.Summary());
}

PolicyRecord RoundTrip(const PolicyRecord& record) {
  absl::StatusOr<PolicyRecord> back = DecodeRecord(EncodeRecord(record));
  EXPECT_TRUE(back.ok()) << back.status();
  return back.ok() ? *std::move(back) : PolicyRecord();
}

state::v1::PolicyRecord AsProto(const PolicyRecord& record) {
  state::v1::PolicyRecord p;
  EXPECT_TRUE(p.ParseFromString(EncodeRecord(record)));
  return p;
}

TEST(StateCodecTest, EveryReasonCodeIsCovered) {
  // decision_test pins the list; the codec must know each of them.
  EXPECT_EQ(LastReasonCode(), static_cast<int>(ReasonCode::kForecast));
}

TEST(StateCodecTest, HostileLoadHistoriesAreRefused) {
  const auto decode_with = [](const auto& edit) {
    state::v1::PolicyRecord p = AsProto(FullRecord());
    edit(*p.mutable_engine()->mutable_load_history(0));
    return DecodeRecord(p.SerializeAsString()).status();
  };
  // More points than a merge of two replicas can hold.
  absl::Status many = decode_with([](state::v1::LoadHistory& h) {
    for (int i = 0; i < 200; ++i) {
      h.add_time_ms(1);
      h.add_load(1);
    }
  });
  EXPECT_EQ(many.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(many.message(), HasSubstr("points; at most 128"));
  // A load that is not a number.
  absl::Status nan = decode_with([](state::v1::LoadHistory& h) {
    h.set_load(0, std::numeric_limits<double>::quiet_NaN());
  });
  EXPECT_THAT(nan.message(), HasSubstr("not a finite number"));
  // The same signal twice.
  state::v1::PolicyRecord p = AsProto(FullRecord());
  *p.mutable_engine()->add_load_history() = p.engine().load_history(0);
  EXPECT_THAT(DecodeRecord(p.SerializeAsString()).status().message(),
              HasSubstr("a signal's history twice"));
}

TEST(StateCodecTest, FullRecordRoundTrips) {
  const PolicyRecord record = FullRecord();
  ExpectSame(RoundTrip(record), record);
}

// A decision's history is its record's engine state: always said so, and a
// copy of its own (written by an earlier version, well formed or not) is
// not read.
TEST(StateCodecTest, AnEarlierVersionsDecisionHistoryIsNotRead) {
  EXPECT_TRUE(AsProto(FullRecord()).decision().history_is_engine_state());
  EXPECT_FALSE(AsProto(FullRecord()).decision().has_recommendations());
  state::v1::PolicyRecord p = AsProto(FullRecord());
  p.mutable_decision()->set_history_is_engine_state(false);
  p.mutable_decision()->mutable_recommendations()->add_replicas(3);
  p.mutable_decision()->mutable_scale_events()->add_to(3);
  absl::StatusOr<PolicyRecord> r = DecodeRecord(p.SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectSame(*r, FullRecord());
}

TEST(StateCodecTest, EmptyRecordRoundTripsWithItsDefaults) {
  const PolicyRecord back = RoundTrip(PolicyRecord());
  ExpectSame(back, PolicyRecord());
  EXPECT_EQ(back.decision, nullptr);
  EXPECT_EQ(back.history_since, absl::InfinitePast());
  EXPECT_FALSE(back.engine.last_decision.has_value());
}

TEST(StateCodecTest, ZeroIsKeptApartFromUnset) {
  PolicyRecord record;
  record.engine.last_decision = 0;
  record.history_since = absl::UnixEpoch();
  auto d = std::make_shared<Decision>();  // every field zero
  d->signals.push_back(SignalExplanation{"s", SignalState::kOk, 0.0,
                                         absl::ZeroDuration(), 0, ""});
  record.decision = d;
  const PolicyRecord back = RoundTrip(record);
  ExpectSame(back, record);
  ASSERT_TRUE(back.engine.last_decision.has_value());
  ASSERT_NE(back.decision, nullptr);
  EXPECT_TRUE(back.decision->signals[0].value.has_value());
}

TEST(StateCodecTest, ExtremeTimesAndCountsRoundTrip) {
  PolicyRecord record;
  const int64_t big = std::numeric_limits<int64_t>::max();
  const int64_t small = std::numeric_limits<int64_t>::min();
  record.engine.recommendations = {{absl::InfiniteFuture(), big},
                                   {absl::InfinitePast(), small},
                                   {kT0, -1},
                                   {kT0 - absl::Hours(24 * 365 * 100), 0},
                                   {absl::InfiniteFuture(), 1}};
  record.engine.scale_events = {{absl::InfinitePast(), small, big}};
  record.history_since = absl::InfiniteFuture();
  auto d = std::make_shared<Decision>();
  d->time = absl::InfinitePast();
  d->signals.push_back(SignalExplanation{
      "s", SignalState::kStale, std::numeric_limits<double>::infinity(),
      absl::InfiniteDuration(), big, ""});
  record.decision = d;
  ExpectSame(RoundTrip(record), record);
}

TEST(StateCodecTest, TimesKeepMillisecondsOnly) {
  PolicyRecord record;
  record.engine.recommendations = {
      {kT0 + absl::Microseconds(1999), 1}};  // 1.999 ms past kT0
  const PolicyRecord back = RoundTrip(record);
  ASSERT_EQ(back.engine.recommendations.size(), 1u);
  EXPECT_EQ(back.engine.recommendations[0].time, kT0 + absl::Milliseconds(1));
}

TEST(StateCodecTest, GarbageIsInvalidArgument) {
  const std::string valid = EncodeRecord(FullRecord());
  const std::string inputs[] = {
      "",
      "garbage",
      std::string("\x08\x01\x12\x05", 4),  // format 1, then a cut field
      valid.substr(0, valid.size() / 2),
      std::string(100, '\xff'),
  };
  for (const std::string& bytes : inputs) {
    absl::StatusOr<PolicyRecord> r = DecodeRecord(bytes);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << ::testing::PrintToString(bytes);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("state record"));
  }
}

TEST(StateCodecTest, ColumnsOfUnequalLengthAreInvalidArgument) {
  state::v1::PolicyRecord p = AsProto(FullRecord());
  p.mutable_engine()->mutable_recommendations()->add_replicas(3);
  absl::StatusOr<PolicyRecord> r = DecodeRecord(p.SerializeAsString());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("engine.recommendations"));

  p = AsProto(FullRecord());
  p.mutable_engine()->mutable_scale_events()->add_to(3);
  r = DecodeRecord(p.SerializeAsString());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("engine.scale_events"));
}

TEST(StateCodecTest, NewerFormatIsRefused) {
  state::v1::PolicyRecord p = AsProto(FullRecord());
  p.set_format(kStateRecordFormat + 1);
  absl::StatusOr<PolicyRecord> r = DecodeRecord(p.SerializeAsString());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("newer version"));
}

TEST(StateCodecTest, UnknownFieldsOfANewerVersionAreIgnored) {
  std::string bytes = EncodeRecord(FullRecord());
  bytes += std::string("\xf8\x06\x07", 3);  // field 111, varint 7
  absl::StatusOr<PolicyRecord> r = DecodeRecord(bytes);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectSame(*r, FullRecord());
}

TEST(StateCodecTest, UnknownReasonCodeIsDroppedAndTheRestKept) {
  const PolicyRecord record = FullRecord();
  state::v1::PolicyRecord p = AsProto(record);
  p.mutable_decision()->mutable_reasons(1)->set_code(
      static_cast<uint32_t>(LastReasonCode() + 1));
  p.mutable_decision()->mutable_reasons(2)->set_code(4000000000u);
  absl::StatusOr<PolicyRecord> r = DecodeRecord(p.SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->decision->reasons.size(), record.decision->reasons.size() - 2);
  EXPECT_EQ(r->decision->reasons[0].code, record.decision->reasons[0].code);
  EXPECT_EQ(r->decision->reasons[1].code, record.decision->reasons[3].code);
  for (const Reason& reason : r->decision->reasons) {
    EXPECT_STRNE(ReasonCodeName(reason.code), "unknown");
  }
  EXPECT_EQ(r->decision->replicas, record.decision->replicas);
  EXPECT_EQ(r->engine.recommendations.size(),
            record.engine.recommendations.size());
}

TEST(StateCodecTest, UnknownSignalStateReadsAsMissing) {
  const PolicyRecord record = FullRecord();
  state::v1::PolicyRecord p = AsProto(record);
  p.mutable_decision()->mutable_signals(0)->set_state(17);
  absl::StatusOr<PolicyRecord> r = DecodeRecord(p.SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->decision->signals[0].state, SignalState::kMissing);
  EXPECT_EQ(r->decision->signals[0].name, record.decision->signals[0].name);
  EXPECT_EQ(r->decision->signals[0].proposal,
            record.decision->signals[0].proposal);
}

TEST(StateCodecTest, AnHourOfOneSecondEvaluationsStaysSmall) {
  // 3600 recommendations a second apart with a few ms of jitter, 200 scale
  // events, and the decision that looked at them (their one copy).
  PolicyRecord record = FullRecord();
  record.engine.recommendations.clear();
  for (int i = 0; i < 3600; ++i) {
    record.engine.recommendations.push_back(
        {kT0 + absl::Milliseconds(1000 * i + (i * 7919) % 23), 10 + i % 7});
  }
  record.engine.scale_events.clear();
  for (int i = 0; i < 200; ++i) {
    record.engine.scale_events.push_back(
        {kT0 + absl::Seconds(18 * i) + absl::Milliseconds(i % 5), 10 + i % 7,
         11 + i % 7});
  }
  const std::string bytes = EncodeRecord(record);
  EXPECT_LT(bytes.size(), 10u * 1024) << bytes.size();
  ExpectSame(RoundTrip(record), record);
}

TEST(StateCodecTest, OversizedInputIsRefusedUnread) {
  const std::string huge(kMaxStateRecordBytes + 1, '\0');
  absl::StatusOr<PolicyRecord> r = DecodeRecord(huge);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("limit"));
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("\\0")));
}

}  // namespace
}  // namespace signalscaler
