// Bookkeeping of open server streams, so that shutdown can end each of them
// with status OK. Internal to the server; includes gRPC.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_STREAM_HUB_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_STREAM_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_callback.h"
#include "scaler/common/metrics.h"

namespace signalscaler::internal {

// Thread-safe. Lock order: hub, then a stream's handle, then the stream.
class StreamHub {
 public:
  // At most `max_streams` streams are open at once (--max-open-streams).
  explicit StreamHub(size_t max_streams) : max_streams_(max_streams) {}

  // Registers a stream. UNAVAILABLE when shutting down, RESOURCE_EXHAUSTED
  // when `max_streams` are open: the stream must then end with that status.
  grpc::Status Add(const char* method, std::function<void()> finish_ok,
                   uint64_t& id) {
    absl::MutexLock lock(&mu_);
    if (closing_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "server is shutting down");
    }
    if (finishers_.size() >= max_streams_) {
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          "too many open streams: the limit is " +
              std::to_string(max_streams_) +
              " (--max-open-streams); retry later or raise the limit");
    }
    id = next_id_++;
    finishers_[id] = std::move(finish_ok);
    Metrics::Get().SetOpenStreams(method, ++open_[method]);
    return grpc::Status::OK;
  }
  void Remove(const char* method, uint64_t id) {
    absl::MutexLock lock(&mu_);
    if (finishers_.erase(id) > 0) {
      Metrics::Get().SetOpenStreams(method, --open_[method]);
    }
  }
  void FinishAll() {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    for (auto& [id, finish] : finishers_) finish();
  }
  // Ends every open stream with OK, and goes on taking new ones (their
  // clients reconnect: KEDA after 2 s).
  void FinishOpen() {
    absl::MutexLock lock(&mu_);
    for (auto& [id, finish] : finishers_) finish();
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return finishers_.size();
  }

 private:
  const size_t max_streams_;
  mutable absl::Mutex mu_;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::function<void()>> finishers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> open_ ABSL_GUARDED_BY(mu_);  // by method
};

// A server-streaming reactor that writes messages one at a time from a
// queue, can be told to finish from any thread, and deletes itself when done.
// Derived classes subscribe in Begin() and unsubscribe in Unsubscribe().
template <class Response>
class StreamWriter : public grpc::ServerWriteReactor<Response> {
 public:
  // Outlives the reactor: watchers hold it, and find `stream` null once done.
  struct Handle {
    absl::Mutex mu;
    StreamWriter* stream ABSL_GUARDED_BY(mu) = nullptr;
  };

  StreamWriter(StreamHub& hub, const char* method)
      : hub_(hub),
        method_(method),
        start_(absl::Now()),
        handle_(std::make_shared<Handle>()) {
    absl::MutexLock lock(&handle_->mu);
    handle_->stream = this;
  }

  // Registers with the hub; finishes the stream with UNAVAILABLE if the
  // server is shutting down, RESOURCE_EXHAUSTED if too many streams are
  // open. Returns whether the stream may go on.
  bool Register() {
    std::shared_ptr<Handle> h = handle_;
    grpc::Status added = hub_.Add(
        method_,
        [h] {
          absl::MutexLock lock(&h->mu);
          if (h->stream != nullptr) h->stream->FinishWith(grpc::Status::OK);
        },
        hub_id_);
    if (!added.ok()) FinishWith(std::move(added));
    return hub_id_ != 0;
  }

  void Send(Response r) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    queue_.push_back(std::move(r));
    if (!writing_) StartNextLocked();
  }

  // Ends the stream with `status` once the write in flight (if any) is done.
  void FinishWith(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_status_ = std::move(status);
    if (!writing_) FinishLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!queue_.empty()) queue_.pop_front();
    if (!ok && !finish_requested_) {
      finish_requested_ = true;
      finish_status_ =
          grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
    }
    if (finish_requested_) {
      FinishLocked();
    } else if (!queue_.empty()) {
      StartNextLocked();
    }
  }

  void OnCancel() override {
    FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&handle_->mu);
      handle_->stream = nullptr;
    }
    if (hub_id_ != 0) hub_.Remove(method_, hub_id_);
    Metrics::Get().RecordRpc(method_, finish_code_, absl::Now() - start_);
    Unsubscribe();
    delete this;
  }

 protected:
  const std::shared_ptr<Handle>& handle() const { return handle_; }
  virtual void Unsubscribe() {}

 private:
  void StartNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    this->StartWrite(&queue_.front());
  }
  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    finish_code_ = static_cast<int>(finish_status_.error_code());
    queue_.clear();
    this->Finish(finish_status_);
  }

  StreamHub& hub_;
  const char* method_;
  const absl::Time start_;
  int finish_code_ = 0;  // read in OnDone, after the last reaction
  uint64_t hub_id_ = 0;
  std::shared_ptr<Handle> handle_;
  absl::Mutex mu_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  // absl's canonical codes are gRPC's, one to one.
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_STREAM_HUB_H_
