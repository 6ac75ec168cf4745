// libFuzzer target: the strict policy loader must be total on any bytes
// (errors, never a crash, each error with a message), and every policy it
// accepts must be decidable by the engine without a crash, whatever the
// readings.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/engine/engine.h"
#include "scaler/policy/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const signalscaler::LoadResult r =
      signalscaler::ParsePolicies(text, "fuzz.yaml");
  for (const signalscaler::PolicyError& e : r.errors) {
    if (e.message.empty()) __builtin_trap();
  }
  if (!r.errors.empty() && !r.policies.empty())
    __builtin_trap();  // all or nothing
  // Readings derived from the input, including extremes.
  const double values[] = {0, 1, 0.5, 1e12, -3, std::nan(""), INFINITY};
  for (const signalscaler::LoadedPolicy& p : r.policies) {
    signalscaler::EngineState state;
    absl::Time now = absl::FromUnixSeconds(1'700'000'000);
    for (int step = 0; step < 4; ++step) {
      signalscaler::Inputs in;
      int i = step;
      for (const auto& s : p.policy.spec().signals()) {
        signalscaler::Observation o;
        o.reading = signalscaler::Reading{values[(i++ + size) % 7], now};
        in.signals[s.name()] = o;
      }
      const auto d = signalscaler::Decide(p.policy, in, state, now);
      if (d.ok() &&
          (d->replicas < 0 || d->replicas > p.policy.spec().max_replicas())) {
        __builtin_trap();
      }
      now += absl::Seconds(7);
    }
  }
  return 0;
}
