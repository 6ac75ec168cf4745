// ThreadSanitizer builds only (linked into every test and the signalscaler
// binary when SIGNALSCALER_SANITIZE contains "thread"; see
// cmake/signalscaler.cmake).
//
// Debian's gRPC and abseil are not built with TSan, so the synchronization
// inside them is invisible to it: a call handed from one thread to another
// through gRPC's completion queues or its executor looks unsynchronized, and
// every access that gRPC's inline header code (instantiated in our objects,
// so instrumented) and our reactors make on either side is reported as a
// race. This file tells TSan about three guarantees of those libraries, by
// interposing the functions through which our code and libgrpc++ reach them
// (the executable's definition wins over the shared library's; the real one
// is found with dlsym(RTLD_NEXT)):
//
// 1. absl::Mutex and absl::CondVar are a mutex and a condition variable:
//    everything before an Unlock happens before whatever follows the next
//    Lock of the same mutex. (gRPC's gpr_mu, grpc_core::Mutex and
//    grpc::internal::Mutex are all absl::Mutex in this build, so this also
//    covers gRPC's executor queue and the mutexes in gRPC's inline headers.)
// 2. A completion queue tag: everything before grpc_call_start_batch (or
//    another call that posts `tag` to a completion queue) happens before the
//    grpc_completion_queue_next/pluck that returns that tag.
// 3. A server callback call's reference count (ServerCallbackCall,
//    grpcpp/support/server_callback.h): every Unref is an acq_rel
//    decrement, and OnDone (ScheduleOnDone) follows the last one; OnCancel
//    (CallOnCancel) likewise follows the last of its two conditions. Most
//    decrements are inline code in our objects, which TSan sees; but the one
//    after an OnCancel reaction and the CompletionOp's run inside libgrpc++.
//    When that one is the last, TSan misses the acquire: ScheduleOnDone and
//    CallOnCancel (exported from libgrpc++ and called through its PLT) do it
//    again, as an instrumented acquire load of the same counter.
//
// Nothing is suppressed here: accesses are still all checked; TSan just
// learns the happens-before edges that gRPC's own synchronization provides
// (a reactor field written by another thread without a lock and read in
// OnWriteDone is still reported). Lock-free handoffs inside gRPC core are
// not annotated; what remains is in .ci/tsan.supp, documented.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIGNALSCALER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SIGNALSCALER_TSAN 1
#endif

#ifdef SIGNALSCALER_TSAN

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/grpc.h"
#include "grpcpp/support/server_callback.h"

namespace {

// The real definition of `name` in the shared libraries after this
// executable; aborts if there is none (a call through it would recurse).
void* Next(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan grpc_sync: no definition of %s after us\n",
                 name);
    std::abort();
  }
  return f;
}

template <class F>
F Real(std::atomic<F>& cache, const char* name) {
  F f = cache.load(std::memory_order_relaxed);
  if (f == nullptr) {
    f = reinterpret_cast<F>(Next(name));
    cache.store(f, std::memory_order_relaxed);
  }
  return f;
}

#define SS_STR2(x) #x
#define SS_STR(x) SS_STR2(x)
// Mangled names of absl:: members, with this abseil's inline namespace.
std::string AbslMangled(const char* cls_and_member) {
  const std::string ns = SS_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return "_ZN4absl" + std::to_string(ns.size()) + ns + cls_and_member;
}

template <class F>
F RealAbsl(std::atomic<F>& cache, const char* cls_and_member) {
  F f = cache.load(std::memory_order_relaxed);
  if (f == nullptr) {
    f = reinterpret_cast<F>(Next(AbslMangled(cls_and_member).c_str()));
    cache.store(f, std::memory_order_relaxed);
  }
  return f;
}

}  // namespace

// ---- 1. absl::Mutex / absl::CondVar ---------------------------------------
namespace absl {
ABSL_NAMESPACE_BEGIN

namespace {
using MutexFn = void (*)(Mutex*);
using MutexTryFn = bool (*)(Mutex*);
std::atomic<MutexFn> real_lock, real_unlock, real_reader_lock,
    real_reader_unlock;
std::atomic<MutexTryFn> real_try_lock, real_reader_try_lock;
using WaitFn = void (*)(CondVar*, Mutex*);
using WaitTimeoutFn = bool (*)(CondVar*, Mutex*, Duration);
using WaitDeadlineFn = bool (*)(CondVar*, Mutex*, Time);
std::atomic<WaitFn> real_wait;
std::atomic<WaitTimeoutFn> real_wait_timeout;
std::atomic<WaitDeadlineFn> real_wait_deadline;
}  // namespace

void Mutex::Lock() {
  RealAbsl(real_lock, "5Mutex4LockEv")(this);
  __tsan_acquire(this);
}
bool Mutex::TryLock() {
  const bool locked = RealAbsl(real_try_lock, "5Mutex7TryLockEv")(this);
  if (locked) __tsan_acquire(this);
  return locked;
}
void Mutex::Unlock() {
  __tsan_release(this);
  RealAbsl(real_unlock, "5Mutex6UnlockEv")(this);
}
void Mutex::ReaderLock() {
  RealAbsl(real_reader_lock, "5Mutex10ReaderLockEv")(this);
  __tsan_acquire(this);
}
bool Mutex::ReaderTryLock() {
  const bool locked =
      RealAbsl(real_reader_try_lock, "5Mutex13ReaderTryLockEv")(this);
  if (locked) __tsan_acquire(this);
  return locked;
}
void Mutex::ReaderUnlock() {
  __tsan_release(this);
  RealAbsl(real_reader_unlock, "5Mutex12ReaderUnlockEv")(this);
}

// A wait unlocks `mu` and locks it again before returning.
void CondVar::Wait(Mutex* mu) {
  __tsan_release(mu);
  RealAbsl(real_wait, "7CondVar4WaitEPNS0_5MutexE")(this, mu);
  __tsan_acquire(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  __tsan_release(mu);
  const bool timed_out = RealAbsl(real_wait_timeout,
                                  "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_"
                                  "8DurationE")(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  __tsan_release(mu);
  const bool timed_out = RealAbsl(
      real_wait_deadline, "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE")(
      this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl

// ---- 2. completion queue tags ----------------------------------------------
extern "C" {

namespace {
using StartBatchFn = grpc_call_error (*)(grpc_call*, const grpc_op*, size_t,
                                         void*, void*);
using NextFn = grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*);
using PluckFn = grpc_event (*)(grpc_completion_queue*, void*, gpr_timespec,
                               void*);
using RequestCallFn = grpc_call_error (*)(grpc_server*, grpc_call**,
                                          grpc_call_details*,
                                          grpc_metadata_array*,
                                          grpc_completion_queue*,
                                          grpc_completion_queue*, void*);
using RequestRegisteredCallFn = grpc_call_error (*)(
    grpc_server*, void*, grpc_call**, gpr_timespec*, grpc_metadata_array*,
    grpc_byte_buffer**, grpc_completion_queue*, grpc_completion_queue*, void*);
using ShutdownAndNotifyFn = void (*)(grpc_server*, grpc_completion_queue*,
                                     void*);
using WatchConnectivityFn = void (*)(grpc_channel*, grpc_connectivity_state,
                                     gpr_timespec, grpc_completion_queue*,
                                     void*);
std::atomic<StartBatchFn> real_start_batch;
std::atomic<NextFn> real_next;
std::atomic<PluckFn> real_pluck;
std::atomic<RequestCallFn> real_request_call;
std::atomic<RequestRegisteredCallFn> real_request_registered_call;
std::atomic<ShutdownAndNotifyFn> real_shutdown_and_notify;
std::atomic<WatchConnectivityFn> real_watch_connectivity;

grpc_event Acquired(grpc_event ev) {
  if (ev.type == GRPC_OP_COMPLETE && ev.tag != nullptr) __tsan_acquire(ev.tag);
  return ev;
}
}  // namespace

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops,
                                      size_t nops, void* tag, void* reserved) {
  if (tag != nullptr) __tsan_release(tag);
  return Real(real_start_batch, "grpc_call_start_batch")(call, ops, nops, tag,
                                                         reserved);
}

grpc_call_error grpc_server_request_call(
    grpc_server* server, grpc_call** call, grpc_call_details* details,
    grpc_metadata_array* request_metadata,
    grpc_completion_queue* cq_bound_to_call,
    grpc_completion_queue* cq_for_notification, void* tag_new) {
  if (tag_new != nullptr) __tsan_release(tag_new);
  return Real(real_request_call, "grpc_server_request_call")(
      server, call, details, request_metadata, cq_bound_to_call,
      cq_for_notification, tag_new);
}

grpc_call_error grpc_server_request_registered_call(
    grpc_server* server, void* registered_method, grpc_call** call,
    gpr_timespec* deadline, grpc_metadata_array* request_metadata,
    grpc_byte_buffer** optional_payload,
    grpc_completion_queue* cq_bound_to_call,
    grpc_completion_queue* cq_for_notification, void* tag_new) {
  if (tag_new != nullptr) __tsan_release(tag_new);
  return Real(real_request_registered_call,
              "grpc_server_request_registered_call")(
      server, registered_method, call, deadline, request_metadata,
      optional_payload, cq_bound_to_call, cq_for_notification, tag_new);
}

void grpc_server_shutdown_and_notify(grpc_server* server,
                                     grpc_completion_queue* cq, void* tag) {
  if (tag != nullptr) __tsan_release(tag);
  Real(real_shutdown_and_notify, "grpc_server_shutdown_and_notify")(server, cq,
                                                                    tag);
}

void grpc_channel_watch_connectivity_state(
    grpc_channel* channel, grpc_connectivity_state last_observed_state,
    gpr_timespec deadline, grpc_completion_queue* cq, void* tag) {
  if (tag != nullptr) __tsan_release(tag);
  Real(real_watch_connectivity, "grpc_channel_watch_connectivity_state")(
      channel, last_observed_state, deadline, cq, tag);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq,
                                      gpr_timespec deadline, void* reserved) {
  return Acquired(
      Real(real_next, "grpc_completion_queue_next")(cq, deadline, reserved));
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag,
                                       gpr_timespec deadline, void* reserved) {
  return Acquired(Real(real_pluck, "grpc_completion_queue_pluck")(
      cq, tag, deadline, reserved));
}

}  // extern "C"

// ---- 3. server callback calls --------------------------------------------
namespace {
// The counters are private members of ServerCallbackCall; an explicit
// instantiation may name them (the standard's access-check exemption for
// explicit instantiations), which keeps this independent of their offsets.
template <class Tag, typename Tag::type kMember>
struct PrivateMember {
  friend typename Tag::type MemberOf(Tag) { return kMember; }
};
struct CallbacksOutstanding {
  using type = std::atomic_int grpc::internal::ServerCallbackCall::*;
  friend type MemberOf(CallbacksOutstanding);
};
struct OnCancelConditionsRemaining {
  using type = std::atomic_int grpc::internal::ServerCallbackCall::*;
  friend type MemberOf(OnCancelConditionsRemaining);
};
template struct PrivateMember<
    CallbacksOutstanding,
    &grpc::internal::ServerCallbackCall::callbacks_outstanding_>;
template struct PrivateMember<
    OnCancelConditionsRemaining,
    &grpc::internal::ServerCallbackCall::on_cancel_conditions_remaining_>;

using ScheduleOnDoneFn = void (*)(grpc::internal::ServerCallbackCall*, bool);
using CallOnCancelFn = void (*)(grpc::internal::ServerCallbackCall*,
                                grpc::internal::ServerReactor*);
std::atomic<ScheduleOnDoneFn> real_schedule_on_done;
std::atomic<CallOnCancelFn> real_call_on_cancel;
}  // namespace

namespace grpc::internal {

void ServerCallbackCall::ScheduleOnDone(bool inline_ondone) {
  (this->*MemberOf(CallbacksOutstanding{})).load(std::memory_order_acquire);
  Real(real_schedule_on_done,
       "_ZN4grpc8internal18ServerCallbackCall14ScheduleOnDoneEb")(
      this, inline_ondone);
}

void ServerCallbackCall::CallOnCancel(ServerReactor* reactor) {
  (this->*MemberOf(OnCancelConditionsRemaining{}))
      .load(std::memory_order_acquire);
  Real(real_call_on_cancel,
       "_ZN4grpc8internal18ServerCallbackCall12CallOnCancelEPNS0_"
       "13ServerReactorE")(this, reactor);
}

}  // namespace grpc::internal

#endif  // SIGNALSCALER_TSAN
