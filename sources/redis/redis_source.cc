#include "sources/redis/redis_source.h"

#include <hiredis/hiredis.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "scaler/common/status_macros.h"
#include "sources/redis/client/redis_cluster.h"
#include "sources/redis/client/redis_connection.h"
#include "sources/redis/client/redis_errors.h"
#include "sources/redis/client/redis_reply.h"
#include "sources/redis/redis_notifier.h"

namespace signalscaler {
namespace {

enum class Measure {
  kListLength,
  kSortedSetSize,
  kStreamLength,
  kPending,
  kLag
};

absl::string_view FirstWord(absl::string_view text) {
  return text.substr(0, text.find(' '));
}

class RedisSourceImpl final : public Source {
 public:
  RedisSourceImpl(const v1::RedisSource& spec, RedisClusterOptions options,
                  Measure measure, std::string key, const Clock& clock)
      : spec_(spec),
        server_(absl::StrCat(options.connection.host, ":",
                             options.connection.port)),
        measure_(measure),
        key_(std::move(key)),
        clock_(clock),
        cluster_(std::move(options), clock) {}

  absl::StatusOr<Reading> Read(absl::Time deadline) override {
    if (clock_.Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(Describe(), ": the deadline passed before reading"));
    }
    absl::MutexLock lock(&mu_);
    absl::StatusOr<double> value = Value(deadline);
    FollowKeyWithNotifier();
    if (!value.ok()) return value.status();
    return Reading{*value, clock_.Now()};
  }

  // On a cluster, keyspace events are sent only by the node that serves the
  // key: the notifier subscribes on the node the key's slot is routed to,
  // and moves when a MOVED moves the slot (FollowKeyWithNotifier).
  absl::Status Subscribe(std::function<void()> on_change) override {
    if (!spec_.notify()) {
      return absl::UnimplementedError(
          absl::StrCat(Describe(), ": notify is off"));
    }
    absl::MutexLock lock(&mu_);
    if (notifier_ != nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(Describe(), ": already subscribed"));
    }
    on_change_ = std::move(on_change);
    notifier_ = NewNotifier(/*replacing=*/false);
    return notifier_->Start();
  }

  std::string Describe() const override {
    std::string text =
        absl::StrCat("redis ", server_, " db ", spec_.database(), " ");
    switch (measure_) {
      case Measure::kListLength:
        absl::StrAppend(&text, "list \"", key_, "\"");
        break;
      case Measure::kSortedSetSize:
        absl::StrAppend(&text, "sortedSet \"", key_, "\"");
        break;
      case Measure::kStreamLength:
        absl::StrAppend(&text, "stream \"", key_, "\"");
        break;
      case Measure::kPending:
      case Measure::kLag:
        absl::StrAppend(&text, "stream \"", key_, "\" group \"", spec_.group(),
                        "\" ", measure_ == Measure::kLag ? "lag" : "pending");
        break;
    }
    return text;
  }

 private:
  bool group_measure() const {
    return measure_ == Measure::kPending || measure_ == Measure::kLag;
  }

  std::unique_ptr<RedisKeyspaceNotifier> NewNotifier(bool replacing)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    RedisNotifierOptions options;
    options.connection = cluster_.NodeOptionsFor(key_);
    options.key = key_;
    // The key's own class, plus generic (DEL, RENAME, EXPIRE, and a
    // cluster's MIGRATE) and expiry, which also change the value.
    const char* own = measure_ == Measure::kListLength      ? "l"
                      : measure_ == Measure::kSortedSetSize ? "z"
                                                            : "t";
    options.classes = absl::StrCat(own, "gx");
    options.changed_on_first_subscription = replacing;
    return std::make_unique<RedisKeyspaceNotifier>(std::move(options), clock_,
                                                   on_change_);
  }

  // After a read: if the key's slot is now served by another node than the
  // one the notifier listens to (a MOVED said so), a new notifier there
  // replaces it (stopping the old one takes up to its poll interval, 200
  // ms), and calls on_change once subscribed.
  void FollowKeyWithNotifier() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (notifier_ == nullptr || !cluster_.cluster_mode() ||
        notifier_->server() == cluster_.NodeFor(key_)) {
      return;
    }
    notifier_.reset();
    notifier_ = NewNotifier(/*replacing=*/true);
    notifier_->StartInBackground();
  }

  absl::StatusOr<double> Value(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<std::string> argv;
    switch (measure_) {
      case Measure::kListLength:
        argv = {"LLEN", key_};
        break;
      case Measure::kSortedSetSize:
        argv = {"ZCARD", key_};
        break;
      case Measure::kStreamLength:
        argv = {"XLEN", key_};
        break;
      case Measure::kPending:
        argv = {"XPENDING", key_, spec_.group()};
        break;
      case Measure::kLag:
        argv = {"XINFO", "GROUPS", key_};
        break;
    }
    const std::string command =
        measure_ == Measure::kLag ? "XINFO GROUPS" : argv[0];
    ASSIGN_OR_RETURN(RedisReplyPtr reply,
                     cluster_.Command(argv, deadline, key_));
    if (reply->type == REDIS_REPLY_ERROR) {
      return OnErrorReply(command, *reply, deadline);
    }
    if (measure_ == Measure::kLag) return Lag(*reply);
    const redisReply* count = reply.get();
    if (measure_ == Measure::kPending) {  // [count, first, last, consumers]
      count = reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1
                  ? reply->element[0]
                  : nullptr;
    }
    if (count == nullptr || count->type != REDIS_REPLY_INTEGER) {
      return absl::InvalidArgumentError(absl::StrCat(
          Describe(), ": ", command, " did not answer a count (reply type ",
          count == nullptr ? reply->type : count->type, ")"));
    }
    return static_cast<double>(count->integer);
  }

  // Group entries are flat [field, value, ...] arrays in RESP2.
  absl::StatusOr<double> Lag(const redisReply& groups) {
    if (groups.type != REDIS_REPLY_ARRAY) {
      return absl::InvalidArgumentError(
          absl::StrCat(Describe(), ": XINFO GROUPS did not answer a list"));
    }
    for (size_t g = 0; g < groups.elements; ++g) {
      const redisReply& group = *groups.element[g];
      if (group.type != REDIS_REPLY_ARRAY) continue;
      const redisReply* name = nullptr;
      const redisReply* lag = nullptr;
      for (size_t i = 0; i + 1 < group.elements; i += 2) {
        const absl::string_view field = ReplyText(*group.element[i]);
        if (field == "name") name = group.element[i + 1];
        if (field == "lag") lag = group.element[i + 1];
      }
      if (name == nullptr || ReplyText(*name) != spec_.group()) continue;
      if (lag == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(Describe(),
                         ": XINFO GROUPS reports no lag (it needs Redis >= 7; "
                         "use groupMeasure pending)"));
      }
      if (lag->type == REDIS_REPLY_NIL) {
        return absl::InvalidArgumentError(absl::StrCat(
            Describe(),
            ": the group's lag is unknown to Redis (nil: entries were deleted "
            "or trimmed between the group's position and the stream's end); "
            "it becomes known again once the group reads past them"));
      }
      if (lag->type != REDIS_REPLY_INTEGER) {
        return absl::InvalidArgumentError(
            absl::StrCat(Describe(), ": XINFO GROUPS lag is not an integer"));
      }
      return static_cast<double>(lag->integer);
    }
    return GroupNotFound();
  }

  absl::Status GroupNotFound() const {
    return absl::NotFoundError(absl::StrCat(
        Describe(), ": consumer group \"", spec_.group(),
        "\" does not exist on stream \"", key_, "\" (XGROUP CREATE makes it)"));
  }

  // Interprets an error reply, asking TYPE where the key's type explains it.
  absl::StatusOr<double> OnErrorReply(const std::string& command,
                                      const redisReply& reply,
                                      absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    RedisFailure failure = FailureFromReply(reply);
    const absl::string_view word = FirstWord(failure.error_reply);
    const bool maybe_missing =
        group_measure() &&
        (word == "NOGROUP" || failure.error_reply == "ERR no such key");
    const RedisCall call{cluster_.NodeFor(key_), command, key_};
    if (word != "WRONGTYPE" && !maybe_missing) {
      return RedisErrorToStatus(call, failure);
    }
    ASSIGN_OR_RETURN(RedisReplyPtr type,
                     cluster_.Command({"TYPE", key_}, deadline, key_));
    if (type->type == REDIS_REPLY_ERROR) {
      return RedisErrorToStatus(RedisCall{cluster_.NodeFor(key_), "TYPE", key_},
                                FailureFromReply(*type));
    }
    failure.key_type = std::string(ReplyText(*type));
    if (failure.key_type == "none") return 0.0;  // the key vanished: empty
    if (failure.key_type != ExpectedKeyType(command)) {
      failure.error_reply = "WRONGTYPE";
      return RedisErrorToStatus(call, failure);
    }
    if (word == "NOGROUP") return GroupNotFound();
    return RedisErrorToStatus(call, failure);
  }

  const v1::RedisSource spec_;
  const std::string server_;  // the address given: "host:port"
  const Measure measure_;
  const std::string key_;
  const Clock& clock_;
  // Reads are one at a time (Source's contract); the lock only orders
  // Subscribe and Read's move of the notifier.
  absl::Mutex mu_;
  RedisCluster cluster_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_change_ ABSL_GUARDED_BY(mu_);
  // Destroyed first.
  std::unique_ptr<RedisKeyspaceNotifier> notifier_ ABSL_GUARDED_BY(mu_);
};

absl::Status ParseAddress(absl::string_view address, std::string& host,
                          int& port) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis address \"", address, "\": ", why));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("expected host:port");
  absl::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  } else if (absl::StrContains(h, ':')) {
    return bad("write an IPv6 address in brackets: [::1]:6379");
  }
  if (h.empty()) return bad("no host");
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return bad("the port must be a number in [1, 65535]");
  }
  host = std::string(h);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeRedisSource(
    const v1::RedisSource& redis, const Clock& clock,
    const RedisSourceTuning& tuning) {
  RedisClusterOptions cluster;
  cluster.allow_host = tuning.allow_host;
  RedisConnectionOptions& options = cluster.connection;
  RETURN_IF_ERROR(ParseAddress(redis.address(), options.host, options.port));
  if (redis.database() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis database ", redis.database(), " is negative"));
  }
  options.database = redis.database();
  options.password_file = redis.password_file();
  options.credentials_root = tuning.credentials_root;
  options.connect_timeout = tuning.connect_timeout;
  options.initial_backoff = tuning.initial_backoff;
  options.max_backoff = tuning.max_backoff;

  const int kinds = !redis.list().empty() + !redis.sorted_set().empty() +
                    !redis.stream().empty();
  if (kinds != 1) {
    return absl::InvalidArgumentError(
        "redis: set exactly one of list, sortedSet, stream");
  }
  if (!redis.group().empty() && redis.stream().empty()) {
    return absl::InvalidArgumentError("redis group needs a stream");
  }
  if (redis.group_measure() != v1::RedisSource::GROUP_MEASURE_UNSPECIFIED &&
      redis.group().empty()) {
    return absl::InvalidArgumentError("redis groupMeasure needs a group");
  }
  Measure measure = Measure::kStreamLength;
  std::string key = redis.stream();
  if (!redis.list().empty()) {
    measure = Measure::kListLength;
    key = redis.list();
  } else if (!redis.sorted_set().empty()) {
    measure = Measure::kSortedSetSize;
    key = redis.sorted_set();
  } else if (!redis.group().empty()) {
    measure = redis.group_measure() == v1::RedisSource::lag ? Measure::kLag
                                                            : Measure::kPending;
  }
  return std::unique_ptr<Source>(new RedisSourceImpl(
      redis, std::move(cluster), measure, std::move(key), clock));
}

}  // namespace signalscaler
