// The times of a state record (proto/state.proto): milliseconds since the
// epoch, the infinities as the int64 extremes, and a column of them in
// delta-of-delta form (element 0 is t0, element 1 is t1 - t0, element i >= 2
// is (ti - ti-1) - (ti-1 - ti-2), in wrapping 64-bit arithmetic, so that any
// times round-trip exactly).
//
//   TimeColumnWriter out(message.mutable_time_ms());
//   for (const Recommendation& r : in) out.Add(r.time);
//   TimeColumnReader in;
//   absl::Time t = in.Next(message.time_ms(0));
//
// Internal to the record codec (state_codec.cc).
#ifndef SIGNALSCALER_SCALER_STATE_INTERNAL_TIME_COLUMN_H_
#define SIGNALSCALER_SCALER_STATE_INTERNAL_TIME_COLUMN_H_

#include <cstdint>
#include <cstring>
#include <limits>

#include <google/protobuf/repeated_field.h>

#include "absl/time/time.h"

namespace signalscaler::state_internal {

using Int64Column = ::google::protobuf::RepeatedField<int64_t>;

inline constexpr int64_t kPastMs = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kFutureMs = std::numeric_limits<int64_t>::max();

inline int64_t TimeToMs(absl::Time t) {
  if (t == absl::InfinitePast()) return kPastMs;
  if (t == absl::InfiniteFuture()) return kFutureMs;
  return absl::ToUnixMillis(t);  // floors; saturates
}

inline absl::Time MsToTime(int64_t ms) {
  if (ms == kPastMs) return absl::InfinitePast();
  if (ms == kFutureMs) return absl::InfiniteFuture();
  return absl::FromUnixMillis(ms);
}

inline int64_t DurationToMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return kFutureMs;
  if (d == -absl::InfiniteDuration()) return kPastMs;
  return absl::ToInt64Milliseconds(d);
}

inline absl::Duration MsToDuration(int64_t ms) {
  if (ms == kFutureMs) return absl::InfiniteDuration();
  if (ms == kPastMs) return -absl::InfiniteDuration();
  return absl::Milliseconds(ms);
}

// Two's complement reinterpretation, both ways: the delta arithmetic wraps
// (well defined on uint64_t), so any pair of times round-trips exactly.
inline int64_t Signed(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
inline uint64_t Unsigned(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

// Appends the delta-of-delta form of `times` (see proto/state.proto).
class TimeColumnWriter {
 public:
  explicit TimeColumnWriter(Int64Column* out) : out_(out) {}
  void Add(absl::Time time) {
    const uint64_t t = Unsigned(TimeToMs(time));
    if (count_ == 0) {
      out_->Add(Signed(t));
    } else {
      const uint64_t delta = t - prev_;
      out_->Add(Signed(count_ == 1 ? delta : delta - prev_delta_));
      prev_delta_ = delta;
    }
    prev_ = t;
    ++count_;
  }

 private:
  Int64Column* out_;
  int count_ = 0;
  uint64_t prev_ = 0;
  uint64_t prev_delta_ = 0;
};

// The inverse: the times of a delta-of-delta column, in order.
class TimeColumnReader {
 public:
  absl::Time Next(int64_t element) {
    const uint64_t v = Unsigned(element);
    uint64_t t;
    if (count_ == 0) {
      t = v;
    } else {
      const uint64_t delta = count_ == 1 ? v : prev_delta_ + v;
      t = prev_ + delta;
      prev_delta_ = delta;
    }
    prev_ = t;
    ++count_;
    return MsToTime(Signed(t));
  }

 private:
  int count_ = 0;
  uint64_t prev_ = 0;
  uint64_t prev_delta_ = 0;
};

}  // namespace signalscaler::state_internal

#endif  // SIGNALSCALER_SCALER_STATE_INTERNAL_TIME_COLUMN_H_
