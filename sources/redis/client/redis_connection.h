// One blocking connection to one Redis server and database, for the redis
// Source and its keyspace subscriber. It connects lazily, AUTHs with the
// password read from a file (re-read on every connect, so a rotated secret is
// picked up), SELECTs the database, and bounds every step by the caller's
// deadline. After a connection failure it backs off exponentially (100 ms
// doubling to 5 s by default): until then calls fail at once with UNAVAILABLE
// saying when the next attempt is. Every reply it reads is bounded
// (max_reply_bytes) while it is read: hiredis would otherwise take a 300 MB
// bulk string whole into memory before anyone could look at its size.
//
//   RedisConnection conn(options, clock);
//   absl::StatusOr<RedisReplyPtr> r = conn.Command({"LLEN", "jobs"}, deadline);
//
// Thread-compatible: one thread at a time.
#ifndef SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_CONNECTION_H_
#define SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_CONNECTION_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "scaler/common/clock.h"
#include "sources/redis/client/redis_errors.h"

namespace signalscaler {

// The default bound on one reply, in bytes of what it takes in memory (its
// strings plus hiredis' 48-byte object per element and 8-byte pointer per
// array slot). The replies the redis source and its keyspace subscriber read
// are tiny: an integer for LLEN/ZCARD/XLEN, a 4-element XPENDING summary,
// about 1 KiB per consumer group for XINFO GROUPS (so ~a thousand groups on
// one stream), a few short words for a pushed event. 1 MiB is far above any
// of them and well below what hurts the process, as the Prometheus source's
// 4 MiB bound on a body is. A larger reply is refused while it is read.
inline constexpr size_t kMaxRedisReplyBytes = size_t{1} << 20;  // 1 MiB

struct RedisReplyBudget;  // what the reply being read took (internal/)

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
// A hiredis reply; include <hiredis/hiredis.h> in a .cc to look inside.
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

struct RedisConnectionOptions {
  std::string host;  // a name or an IP address (no brackets)
  int port = 6379;
  int database = 0;           // SELECTed after connecting unless 0
  std::string password_file;  // empty: no AUTH; read at every connect
  // Set (serve's --credentials-root): password_file must be
  // ROOT/<namespace>/... and, opened, resolve inside ROOT/<namespace>/
  // (sources/credential_file.h); else the connect fails.
  std::string credentials_root;
  // Upper bound of one connect; the caller's deadline may cut it shorter.
  absl::Duration connect_timeout = absl::Seconds(2);
  // Backoff after a failed connect or a lost connection: doubles from
  // `initial_backoff` up to `max_backoff`; reset by a successful connect.
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Bound on one reply (see kMaxRedisReplyBytes). Pipelined replies are
  // bounded one by one, never in total.
  size_t max_reply_bytes = kMaxRedisReplyBytes;
};

// One command of a pipeline: its argv, and the key it reads or writes
// (named in error messages; a cluster client routes by it; empty if none).
struct RedisCommand {
  std::vector<std::string> argv;
  std::string key;
};

class RedisConnection {
 public:
  // `clock` must outlive the connection; deadlines are on its time line.
  RedisConnection(RedisConnectionOptions options, const Clock& clock);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command (binary-safe argv) and returns its reply, which MAY be
  // an error reply (REDIS_REPLY_ERROR): only the caller knows what it means,
  // so it maps it with RedisErrorToStatus. Connects first if needed. Fails
  // with DEADLINE_EXCEEDED (no answer in time; the connection is dropped and
  // the next call reconnects), UNAVAILABLE (cannot connect, lost, or backing
  // off), UNAUTHENTICATED (AUTH refused), FAILED_PRECONDITION (password file
  // unreadable), RESOURCE_EXHAUSTED (the reply outgrew max_reply_bytes: the
  // client stopped reading it and dropped the connection, whose stream is
  // mid-reply; the next call reconnects, with no backoff). A lost connection
  // that had been in use is retried once at once on a fresh one (the command
  // must then be idempotent: reads are). `key` only names the key in error
  // messages.
  absl::StatusOr<RedisReplyPtr> Command(const std::vector<std::string>& argv,
                                        absl::Time deadline,
                                        absl::string_view key = "");

  // Sends every command, then reads every reply: one round trip (as far as
  // the socket's buffers go). The replies are in the commands' order and
  // MAY be error replies. Fails as Command() does, for the whole batch (a
  // transport failure leaves no telling which commands ran), with the same
  // one retry on a fresh connection, so the commands must be safe to run
  // twice (reads are; so are the state store's fenced scripts). No command:
  // no reply and no I/O.
  absl::StatusOr<std::vector<RedisReplyPtr>> Pipeline(
      const std::vector<RedisCommand>& commands, absl::Time deadline);
  // The same, on commands held elsewhere (none may be null).
  absl::StatusOr<std::vector<RedisReplyPtr>> Pipeline(
      const std::vector<const RedisCommand*>& commands, absl::Time deadline);

  // For subscribers: sends a command without waiting for its reply.
  absl::Status Send(const std::vector<std::string>& argv, absl::Time deadline);
  // Waits up to `wait` (real time) for the next reply on the connection.
  // Returns nullptr if none arrived in time (the connection stays usable),
  // UNAVAILABLE when not connected or the connection was lost,
  // RESOURCE_EXHAUSTED (connection dropped) when the reply being read
  // outgrew max_reply_bytes.
  absl::StatusOr<RedisReplyPtr> NextReply(absl::Duration wait);

  bool connected() const { return context_ != nullptr; }
  // When the next connect attempt is allowed (past if now).
  absl::Time retry_at() const { return retry_at_; }
  // Drops the connection (no backoff).
  void Disconnect();
  // Drops the connection and starts (or extends) the backoff.
  void Fail(const absl::Status& why);

  // "host:port", for messages.
  const std::string& server() const { return server_; }

 private:
  absl::Status Connect(absl::Time deadline);
  absl::Status SetUp(absl::Time deadline);
  absl::Status SetDeadline(absl::Time deadline, absl::string_view command);
  absl::StatusOr<RedisReplyPtr> RoundTrip(const std::vector<std::string>& argv,
                                          absl::Time deadline,
                                          absl::string_view key);
  // Queues the command; Flush writes out all that is queued (blocking,
  // bounded by the timeout last set); Write does both.
  absl::Status Append(const std::vector<std::string>& argv,
                      absl::string_view key);
  absl::Status Flush(absl::string_view command, absl::string_view key);
  absl::Status Write(const std::vector<std::string>& argv,
                     absl::string_view key);
  // Reads the next reply, cutting every read to what is left of `deadline`.
  absl::StatusOr<RedisReplyPtr> ReadReply(absl::string_view command,
                                          absl::string_view key,
                                          absl::Time deadline);
  absl::StatusOr<std::vector<RedisReplyPtr>> PipelineOnce(
      const std::vector<const RedisCommand*>& commands, absl::Time deadline,
      bool& replied);
  // After a failed round trip: drops the connection, and backs off unless
  // it was slow (deadline) or mid-reply (bound). True: the caller may retry
  // once at once (a connection in use was found lost).
  bool Recover(const absl::Status& failure, bool reused, int attempt);
  // The next complete reply from what was read so far, or nullptr if none is
  // complete yet. RESOURCE_EXHAUSTED when the reply in progress (the objects
  // made of it plus its bytes not yet parsed) is over the bound.
  absl::StatusOr<RedisReplyPtr> TakeReply(absl::string_view command,
                                          absl::string_view key);
  absl::Status ReplyTooLarge(absl::string_view command, absl::string_view key);
  absl::Status TransportFailure(absl::string_view command,
                                absl::string_view key, int saved_errno);
  absl::Status Redact(absl::Status status) const;

  const RedisConnectionOptions options_;
  const Clock& clock_;
  const std::string server_;
  // Charged by the reader of context_ (its privdata) for every object it
  // makes of a reply.
  const std::unique_ptr<RedisReplyBudget> budget_;
  redisContext* context_ = nullptr;
  bool used_ = false;     // a command succeeded on this connection
  std::string password_;  // as last read; only for AUTH and redaction
  absl::Duration backoff_ = absl::ZeroDuration();
  absl::Time retry_at_ = absl::InfinitePast();
  absl::Status last_failure_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_REDIS_CLIENT_REDIS_CONNECTION_H_
