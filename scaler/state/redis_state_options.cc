// RedisStateStoreOptions checked, and the names of the store's keys.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "scaler/state/redis_state_store.h"

namespace signalscaler {

absl::Status ValidateRedisStateStoreOptions(const RedisStateStoreOptions& o) {
  if (o.host.empty()) {
    return absl::InvalidArgumentError("redis state store: host is required");
  }
  if (o.port <= 0 || o.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis state store: port ", o.port, " is out of range"));
  }
  if (o.database < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis state store: database ", o.database, " is negative"));
  }
  if (o.key_prefix.empty() ||
      std::any_of(o.key_prefix.begin(), o.key_prefix.end(), [](char c) {
        return c == '{' || c == '}' || absl::ascii_isspace(c) ||
               absl::ascii_iscntrl(c);
      })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis state store: key prefix \"", o.key_prefix,
        "\" must be non-empty, without braces, spaces or control characters"));
  }
  const std::pair<absl::Duration, const char*> durations[] = {
      {o.connect_timeout, "connect timeout"},
      {o.initial_backoff, "initial backoff"},
      {o.max_backoff, "max backoff"},
      {o.epoch_ttl, "epoch ttl"},
      {o.watch_poll_interval, "watch poll interval"},
      {o.watch_setup_timeout, "watch setup timeout"},
      {o.watch_ping_interval, "watch ping interval"}};
  for (const auto& [d, name] : durations) {
    if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat("redis state store: ", name, " must be positive, not ",
                       absl::FormatDuration(d)));
    }
  }
  return absl::OkStatus();
}

RedisStateKeys RedisKeysOf(const std::string& prefix, const PolicyKey& key) {
  const std::string base =
      absl::StrCat(prefix, ":{", key.ns, "/", key.name, "}:");
  return RedisStateKeys{absl::StrCat(base, "state"),
                        absl::StrCat(base, "lease"),
                        absl::StrCat(base, "epoch")};
}

std::string RedisReplicasKey(const std::string& prefix) {
  return absl::StrCat(prefix, ":replicas");
}

std::string RedisSavedChannel(const std::string& prefix) {
  return absl::StrCat(prefix, ":saved");
}

}  // namespace signalscaler
