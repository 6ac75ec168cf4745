// A PolicyRecord to bytes and back (proto/state.proto): the one form in
// which replicas share a policy's state. Compact (an hour of one-second
// evaluations, with the decision that looked at it, is under 10 KiB: about
// two bytes a recommendation) and versioned; decoding is total on any bytes
// (fuzz_state_record).
//
//   std::string blob = EncodeRecord(record);
//   absl::StatusOr<PolicyRecord> back = DecodeRecord(blob);
//
// Times keep millisecond precision (sub-millisecond parts are truncated
// toward the past); absl::InfinitePast/InfiniteFuture round-trip exactly.
#ifndef SIGNALSCALER_SCALER_STATE_STATE_CODEC_H_
#define SIGNALSCALER_SCALER_STATE_STATE_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "scaler/state/state_store.h"

namespace signalscaler {

// The layout version written (proto/state.proto's `format`).
inline constexpr uint32_t kStateRecordFormat = 1;
// Larger inputs are refused unread.
inline constexpr size_t kMaxStateRecordBytes = size_t{16} << 20;  // 16 MiB

std::string EncodeRecord(const PolicyRecord& record);

// INVALID_ARGUMENT when `bytes` is not a record of ours (not protobuf,
// no format, columns of unequal length), was written in a newer format, or
// is over kMaxStateRecordBytes. The message never quotes the bytes.
// Values written by a newer version that this one does not know are read
// safely: an unknown SignalState becomes kMissing, a Reason with an unknown
// code is dropped (see proto/state.proto).
absl::StatusOr<PolicyRecord> DecodeRecord(absl::string_view bytes);

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_STATE_STATE_CODEC_H_
