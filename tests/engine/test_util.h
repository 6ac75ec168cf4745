// Helpers for the engine tests: policies from text protos, Inputs built one
// reading at a time, times as seconds since the epoch.
//
//   v1::ScalingPolicy p = PolicyFrom(R"pb(spec { max_replicas: 5 ... })pb");
//   Inputs in = In(T(10)).Signal("cpu", 0.5).Replicas(3);
#ifndef SIGNALSCALER_TESTS_ENGINE_TEST_UTIL_H_
#define SIGNALSCALER_TESTS_ENGINE_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "proto/policy.pb.h"
#include "scaler/engine/decision.h"
#include "scaler/engine/engine.h"

namespace signalscaler::testing {

inline absl::Time T(int64_t seconds) {
  return absl::UnixEpoch() + absl::Seconds(seconds);
}

// Parses a ScalingPolicy text proto; metadata defaults to media/test.
inline v1::ScalingPolicy PolicyFrom(const std::string& text) {
  v1::ScalingPolicy p;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &p)) << text;
  if (p.metadata().name().empty()) p.mutable_metadata()->set_name("test");
  if (p.metadata().namespace_().empty()) {
    p.mutable_metadata()->set_namespace_("media");
  }
  return p;
}

// Behavior with both windows 0 and rate policies too large to matter.
inline constexpr const char* kNoDamping = R"pb(
  behavior {
    scale_up {
      stabilization_window_seconds: 0
      policies { type: Pods value: 100000 period_seconds: 1 }
    }
    scale_down {
      stabilization_window_seconds: 0
      policies { type: Pods value: 100000 period_seconds: 1 }
    }
  })pb";

// Builds Inputs whose readings are sampled at `now` unless told otherwise.
class In {
 public:
  explicit In(absl::Time now) : now_(now) {}
  In& Signal(const std::string& name, double v) {
    return SignalAt(name, v, now_);
  }
  In& SignalAt(const std::string& name, double v, absl::Time sampled) {
    in_.signals[name].reading = Reading{v, sampled};
    return *this;
  }
  // The latest attempt failed; `last` is the older good reading, if any.
  In& Failed(const std::string& name, absl::Status error) {
    in_.signals[name].error = std::move(error);
    return *this;
  }
  In& Replicas(double v) {
    in_.replicas = Observation{Reading{v, now_}, absl::OkStatus()};
    return *this;
  }
  In& Ready(double v) {
    in_.ready_replicas = Observation{Reading{v, now_}, absl::OkStatus()};
    return *this;
  }
  const Inputs& get() const { return in_; }
  operator const Inputs&() const { return in_; }  // NOLINT: test sugar

 private:
  absl::Time now_;
  Inputs in_;
};

// Decide() that must succeed.
inline Decision MustDecide(const v1::ScalingPolicy& p, const Inputs& in,
                           EngineState& state, absl::Time now) {
  absl::StatusOr<Decision> d = Decide(p, in, state, now);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : Decision{};
}

inline bool HasReason(const Decision& d, ReasonCode code) {
  return std::any_of(d.reasons.begin(), d.reasons.end(),
                     [code](const Reason& r) { return r.code == code; });
}

}  // namespace signalscaler::testing

#endif  // SIGNALSCALER_TESTS_ENGINE_TEST_UTIL_H_
