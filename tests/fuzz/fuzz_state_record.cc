// libFuzzer target: DecodeRecord must be total on any bytes (an error with a
// message, never a crash), and a record it accepts must encode to bytes
// that decode again and encode to the same bytes (the encoding is stable).
//
// Seeds (corpus/state_record/) were made from text with
//   protoc --encode=signalscaler.state.v1.PolicyRecord -Iproto state.proto
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "scaler/state/state_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<signalscaler::PolicyRecord> record =
      signalscaler::DecodeRecord(bytes);
  if (!record.ok()) {
    if (record.status().message().empty()) __builtin_trap();
    if (record.status().code() != absl::StatusCode::kInvalidArgument) {
      __builtin_trap();
    }
    return 0;
  }
  const std::string once = signalscaler::EncodeRecord(*record);
  const absl::StatusOr<signalscaler::PolicyRecord> again =
      signalscaler::DecodeRecord(once);
  if (!again.ok()) __builtin_trap();
  if (signalscaler::EncodeRecord(*again) != once) __builtin_trap();
  return 0;
}
