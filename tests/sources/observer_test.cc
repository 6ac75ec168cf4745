// SourceObserver::ObservePolicy (one read of the PushStore for a policy's
// pushed signals) against Observe() signal by signal, and PushStore::GetMany.
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "sources/observer.h"
#include "sources/push/push_source.h"

namespace signalscaler {
namespace {

v1::PolicySpec Spec() {
  v1::PolicySpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        max_replicas: 10
        replicas { push {} }
        signals {
          name: "queue"
          source { push {} }
        }
        signals {
          name: "cpu"
          source { prometheus { address: "http://p:9090" query: "x" } }
        }
        signals {
          name: "jobs"
          source { push {} }
        }
      )pb",
      &spec));
  return spec;
}

TEST(PushStoreTest, GetManyReadsEachSignalInOrder) {
  PushStore store;
  const PolicyKey key{"team-a", "api"};
  const absl::Time t = absl::FromUnixSeconds(1000);
  store.Record(key, "b", {2, t});
  store.Record(key, "a", {1, t});
  store.Record({"team-b", "api"}, "c", {3, t});
  const std::string a = "a", b = "b", c = "c";
  const std::vector<const std::string*> names = {&b, &c, &a};
  std::vector<std::optional<Reading>> out(3, Reading{99, t});
  store.GetMany(key, names, absl::MakeSpan(out));
  ASSERT_TRUE(out[0].has_value());
  EXPECT_EQ(out[0]->value, 2);
  EXPECT_FALSE(out[1].has_value()) << "another namespace's value";
  ASSERT_TRUE(out[2].has_value());
  EXPECT_EQ(out[2]->value, 1);
  // An unknown policy: nothing, whatever `out` held.
  std::vector<std::optional<Reading>> none(3, Reading{99, t});
  store.GetMany({"team-c", "api"}, names, absl::MakeSpan(none));
  for (const auto& r : none) EXPECT_FALSE(r.has_value());
}

TEST(SourceObserverTest, ObservePolicyIsObserveOfEachSignal) {
  PushStore store;
  const PolicyKey key{"team-a", "api"};
  const absl::Time t = absl::FromUnixSeconds(1000);
  store.Record(key, "queue", {35, t});
  store.Record(key, kReplicasSignal, {4, t});
  // "jobs" never pushed; "cpu" has no sampler here (UNIMPLEMENTED).
  const SourceObserver observer(store);
  const v1::PolicySpec spec = Spec();
  const Inputs in = observer.ObservePolicy(key, spec);
  ASSERT_EQ(in.signals.size(), 3u);
  for (const v1::Signal& s : spec.signals()) {
    const Observation one = observer.Observe(key, s.name(), s.source());
    const Observation& all = in.signals.at(s.name());
    EXPECT_EQ(all.reading.has_value(), one.reading.has_value()) << s.name();
    if (one.reading) {
      EXPECT_EQ(all.reading->value, one.reading->value);
    }
    EXPECT_EQ(all.error.code(), one.error.code()) << s.name();
  }
  EXPECT_EQ(in.signals.at("queue").reading->value, 35);
  EXPECT_FALSE(in.signals.at("jobs").reading.has_value());
  EXPECT_EQ(in.signals.at("cpu").error.code(),
            absl::StatusCode::kUnimplemented);
  ASSERT_TRUE(in.replicas.has_value());
  EXPECT_EQ(in.replicas->reading->value, 4);
  EXPECT_FALSE(in.ready_replicas.has_value());
}

}  // namespace
}  // namespace signalscaler
