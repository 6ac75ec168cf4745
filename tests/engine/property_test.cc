// Properties of Decide() over randomized policies and reading sequences
// (std::mt19937 with a fixed seed, so every run checks the same cases):
//  1. the result lies in [min(minReplicas, upper), upper], upper being
//     min(maxReplicas, floor(budget / perReplica) for each limit);
//  2. no scale-down while a signal is held or proposes >= current;
//  3. no change exceeds what the rate policies allow in their periods;
//  4. with both windows 0 and no rate limiting, the result is
//     clamp(max of the proposals);
//  5. the same arguments give the same decision.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "scaler/policy/defaults.h"
#include "tests/engine/test_util.h"

namespace signalscaler {
namespace {

using testing::T;

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}
  int Int(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  double Real(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  bool Chance(double p) { return Real(0, 1) < p; }
  template <typename V>
  const typename V::value_type& Pick(const V& v) {
    return v[Int(0, static_cast<int>(v.size()) - 1)];
  }

 private:
  std::mt19937 rng_;
};

void RandomRules(Gen& g, v1::ScalingRules* r, bool free) {
  if (free) {
    r->set_stabilization_window_seconds(0);
    auto* p = r->add_policies();
    p->set_type(v1::RatePolicy::Pods);
    p->set_value(1000000);
    p->set_period_seconds(1);
    return;
  }
  if (g.Chance(0.2)) r->set_tolerance(g.Pick(std::vector<double>{0, 0.1, 0.5}));
  if (g.Chance(0.8)) {
    r->set_stabilization_window_seconds(
        g.Pick(std::vector<int>{0, 15, 60, 300}));
  }
  const int select = g.Int(0, 10);
  r->set_select_policy(select == 0   ? v1::ScalingRules::Disabled
                       : select <= 3 ? v1::ScalingRules::Min
                                     : v1::ScalingRules::Max);
  const int n = g.Int(0, 2);  // 0: the HPA's defaults
  for (int i = 0; i < n; ++i) {
    auto* p = r->add_policies();
    if (g.Chance(0.5)) {
      p->set_type(v1::RatePolicy::Pods);
      p->set_value(g.Int(1, 5));
    } else {
      p->set_type(v1::RatePolicy::Percent);
      p->set_value(g.Pick(std::vector<int>{10, 25, 50, 100, 200}));
    }
    p->set_period_seconds(g.Pick(std::vector<int>{15, 30, 60}));
  }
}

v1::ScalingPolicy RandomPolicy(Gen& g, bool free) {
  v1::ScalingPolicy policy;
  policy.mutable_metadata()->set_name("p");
  policy.mutable_metadata()->set_namespace_("prop");
  v1::PolicySpec* spec = policy.mutable_spec();
  const int min = g.Int(0, 3);
  if (min != 1 || g.Chance(0.5)) spec->set_min_replicas(min);
  spec->set_max_replicas(std::max(1, min) + g.Int(0, 15));
  if (g.Chance(0.25)) {
    auto* l = spec->add_limits();
    l->set_name("db");
    l->set_per_replica(g.Pick(std::vector<double>{50, 100, 200}));
    l->set_budget(g.Int(1, 20) * 100.0);
  }
  const int signals = g.Int(1, 3);
  for (int i = 0; i < signals; ++i) {
    v1::Signal* s = spec->add_signals();
    s->set_name(absl::StrCat("s", i));
    s->mutable_source()->mutable_push();
    // With minReplicas 0, a Total signal wakes the service (the loader's
    // advice); property 4 relies on it.
    const int type = (i == 0 && min == 0) ? 0 : g.Int(0, 2);
    if (type == 0) {
      s->set_type(v1::Signal::Total);
      s->set_target_per_replica(g.Pick(std::vector<double>{1, 5, 10, 20}));
      if (g.Chance(0.3))
        s->set_tolerance(g.Pick(std::vector<double>{0, 0.05, 0.2}));
      if (g.Chance(0.3))
        s->set_activation_above(g.Pick(std::vector<double>{0, 3}));
    } else if (type == 1) {
      s->set_type(v1::Signal::Average);
      const double down = g.Real(0.1, 0.5);
      s->set_scale_down_below(down);
      s->set_scale_up_above(down + g.Real(0.1, 0.4));
    } else {
      s->set_type(v1::Signal::Headroom);
      const int up = g.Int(0, 2);
      s->set_scale_up_below(up);
      s->set_scale_down_above(up + g.Int(2, 4));
      if (g.Chance(0.3)) s->set_capacity_per_replica(2);
    }
  }
  RandomRules(g, spec->mutable_behavior()->mutable_scale_up(), free);
  RandomRules(g, spec->mutable_behavior()->mutable_scale_down(), free);
  return policy;
}

// The test's own account of rate limits: k8s' limit functions over the
// decisions made so far.
struct Change {
  absl::Time time;
  int64_t from, to;
};

// Kubernetes' period start: current - added + removed in the period, both
// directions counted (calculateScaleUpLimitWithScalingRules,
// calculateScaleDownLimitWithBehaviors).
int64_t NetMoved(const std::vector<Change>& log, absl::Time now, int period) {
  int64_t sum = 0;
  for (const Change& c : log) {
    if (c.time <= now - absl::Seconds(period)) continue;
    sum += c.to - c.from;
  }
  return sum;
}

// The most (up) or least (down) replicas allowed from `current`.
int64_t Allowed(const v1::ScalingRules& r, const std::vector<Change>& log,
                absl::Time now, int64_t current, bool up) {
  if (r.select_policy() == v1::ScalingRules::Disabled) return current;
  std::vector<int64_t> limits;
  for (const v1::RatePolicy& p : r.policies()) {
    const double start =
        static_cast<double>(current - NetMoved(log, now, p.period_seconds()));
    double l;
    if (p.type() == v1::RatePolicy::Pods) {
      l = up ? start + p.value() : start - p.value();
    } else {
      // Up, Percent measures from at least one replica (DESIGN.md step 5).
      l = up ? std::ceil(std::max(start, 1.0) * (100 + p.value()) / 100 - 1e-9)
             : std::floor(start * (100 - p.value()) / 100 + 1e-9);
    }
    limits.push_back(static_cast<int64_t>(l));
  }
  const bool biggest = r.select_policy() != v1::ScalingRules::Min;
  const int64_t l = (up == biggest)
                        ? *std::max_element(limits.begin(), limits.end())
                        : *std::min_element(limits.begin(), limits.end());
  return up ? std::max(l, current) : std::min(l, current);
}

TEST(EngineProperties, HoldOverRandomPoliciesAndReadings) {
  Gen g(20261123);
  constexpr int kCases = 1500;
  constexpr int kSteps = 40;
  int scale_ups = 0, scale_downs = 0, held_steps = 0, free_cases = 0;
  for (int c = 0; c < kCases; ++c) {
    const bool free = g.Chance(0.25);
    free_cases += free;
    const v1::ScalingPolicy policy = RandomPolicy(g, free);
    const v1::PolicySpec& spec = policy.spec();
    const v1::ScalingRules up = EffectiveScaleUp(spec);
    const v1::ScalingRules down = EffectiveScaleDown(spec);
    int64_t upper = spec.max_replicas();
    for (const v1::Limit& l : spec.limits()) {
      upper = std::min<int64_t>(
          upper,
          static_cast<int64_t>(std::floor(l.budget() / l.per_replica())));
    }
    const int64_t lower = std::min<int64_t>(MinReplicas(spec), upper);

    std::vector<double> level(spec.signals_size());
    for (int i = 0; i < spec.signals_size(); ++i) {
      const auto type = spec.signals(i).type();
      level[i] = type == v1::Signal::Total     ? g.Real(0, 100)
                 : type == v1::Signal::Average ? g.Real(0, 1)
                                               : g.Real(0, 8);
    }
    EngineState state;
    std::vector<Change> log;
    absl::Time now = T(10000);
    for (int step = 0; step < kSteps; ++step) {
      now += absl::Seconds(g.Pick(std::vector<int>{5, 10, 15}));
      testing::In in(now);
      for (int i = 0; i < spec.signals_size(); ++i) {
        const v1::Signal& s = spec.signals(i);
        const double scale = s.type() == v1::Signal::Total     ? 40
                             : s.type() == v1::Signal::Average ? 0.2
                                                               : 2;
        level[i] = std::max(0.0, level[i] + g.Real(-scale, scale));
        if (g.Chance(0.05)) level[i] = 0;  // idle
        if (free) {
          in.Signal(s.name(), level[i]);
          continue;
        }
        const int fate = g.Int(0, 99);
        if (fate < 6) continue;  // missing
        if (fate < 12) {         // failed, an older reading kept
          in.SignalAt(s.name(), level[i], now - absl::Seconds(10))
              .Failed(s.name(), absl::UnavailableError("down"));
        } else if (fate < 17) {  // stale
          in.SignalAt(s.name(), level[i], now - absl::Seconds(100));
        } else {
          in.Signal(s.name(), level[i]);
        }
      }
      const std::optional<int64_t> before = state.last_decision;
      EngineState copy = step % 8 == 0 ? state : EngineState{};
      const absl::StatusOr<Decision> got = Decide(policy, in, state, now);
      if (!got.ok()) {
        ASSERT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
        ASSERT_FALSE(state.ever_had_reading);
        continue;
      }
      const Decision& d = *got;
      const auto where = [&] {  // built only when an assertion fails
        return absl::StrCat("case ", c, " step ", step, ": ", d.Summary(), "\n",
                            policy.DebugString());
      };
      // 5. Determinism (every 8th step keeps the test fast under ASan).
      if (step % 8 == 0) {
        const absl::StatusOr<Decision> again = Decide(policy, in, copy, now);
        ASSERT_TRUE(again.ok());
        ASSERT_EQ(again->replicas, d.replicas) << where();
        ASSERT_EQ(again->Summary(), d.Summary());
      }

      // 1. Bounds.
      ASSERT_GE(d.replicas, lower) << where();
      ASSERT_LE(d.replicas, upper) << where();

      // 4. Undamped: clamp(max of proposals).
      int64_t max_p = 0;
      bool held = false;
      bool proposes_current = false;
      for (const SignalExplanation& e : d.signals) {
        max_p = std::max(max_p, e.proposal);
        held |= e.state != SignalState::kOk;
        proposes_current |= before && e.proposal >= *before;
      }
      if (free) {
        ASSERT_EQ(d.replicas, std::clamp(max_p, lower, upper)) << where();
      }
      if (!before) {
        log.clear();
        continue;
      }
      ASSERT_EQ(d.current, *before);
      held_steps += held;

      // 2. No scale-down while held or while a signal asks for current.
      if (held || proposes_current) {
        ASSERT_GE(d.replicas, *before) << where();
      }

      // 3. Rate policies.
      if (d.replicas > *before) {
        ASSERT_LE(d.replicas, Allowed(up, log, now, *before, true)) << where();
        ++scale_ups;
      } else if (d.replicas < *before) {
        ASSERT_GE(d.replicas, Allowed(down, log, now, *before, false))
            << where();
        ++scale_downs;
      }
      if (d.replicas != *before) log.push_back({now, *before, d.replicas});
    }
  }
  // The generator really exercised what the properties speak of.
  EXPECT_GT(scale_ups, 800);
  EXPECT_GT(scale_downs, 800);
  EXPECT_GT(held_steps, 800);
  EXPECT_GT(free_cases, 250);
}

}  // namespace
}  // namespace signalscaler
