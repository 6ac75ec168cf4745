#include "scaler/server/policy_reloader.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"
#include "scaler/policy/policy_key.h"
#include "scaler/policy/warnings.h"
#include "scaler/server/internal/dir_watch.h"

namespace signalscaler {
namespace {

// The file's bytes, up to one more than a policy file may hold (the loader
// rejects a longer one); nullopt when unreadable.
std::optional<std::string> ReadCapped(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out;
  char buf[16 * 1024];
  while (out.size() <= kMaxPolicyFileBytes) {
    in.read(buf, sizeof(buf));
    if (in.gcount() > 0) out.append(buf, static_cast<size_t>(in.gcount()));
    if (!in) break;
  }
  if (in.bad()) return std::nullopt;
  return out;
}

// Whether two policy lists are the same policies from the same places.
bool SamePolicies(const std::vector<LoadedPolicy>& a,
                  const std::vector<LoadedPolicy>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].file != b[i].file || a[i].line != b[i].line) return false;
    // The same shared message (an unchanged file) needs no comparing.
    if (&a[i].policy.get() != &b[i].policy.get() &&
        a[i].policy.SerializeAsString() != b[i].policy.SerializeAsString()) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> ToStrings(const std::vector<PolicyError>& errors) {
  std::vector<std::string> out;
  for (const PolicyError& e : errors) out.push_back(e.ToString());
  return out;
}

}  // namespace

PolicyReloader::PolicyReloader(std::string path, PolicyRegistry& registry,
                               NamespaceSet namespaces, PolicyLimits limits,
                               SourceAccess access)
    : path_(std::move(path)),
      registry_(registry),
      namespaces_(std::move(namespaces)),
      limits_(limits),
      access_(std::move(access)) {}

PolicyReloader::~PolicyReloader() { Stop(); }

bool PolicyReloader::NamespaceServed(const std::string& ns) const {
  return namespaces_.empty() || namespaces_.contains(ns);
}

ReloadReport PolicyReloader::Reload() {
  absl::MutexLock lock(&mu_);
  ReloadReport report;
  ++reloads_;
  absl::StatusOr<std::vector<std::string>> listed = ListPolicyFiles(path_);
  if (!listed.ok()) {
    // The directory is unreadable right now: keep everything as it is.
    report.errors.push_back(ListError(std::string(listed.status().message())));
    return report;
  }
  last_list_error_.clear();

  // Each file's digest first: the same files with the same bytes, none of
  // whose policies' confinement reads a file, give what they gave last
  // time, and the composition (a function of those inputs) and what is in
  // force stay as they are, without a copy of 10,000 policies.
  std::vector<std::optional<TokenDigest>> digests;
  digests.reserve(listed->size());
  bool same = last_report_.has_value() && files_.size() == listed->size();
  for (const std::string& file : *listed) {
    std::optional<std::string> bytes = ReadCapped(file);
    digests.push_back(bytes.has_value()
                          ? std::optional<TokenDigest>(Sha256Of(*bytes))
                          : std::nullopt);
    if (!same) continue;
    const auto prev = files_.find(file);
    same = prev != files_.end() && digests.back().has_value() &&
           prev->second.digest == digests.back() &&
           !prev->second.confinement_reads_files;
  }
  // Else each file alone (read, parsed again only if its bytes changed, its
  // own errors), then the set composed from them (scaler/policy/policy_set.h).
  std::map<std::string, FileState> next;
  bool any_changed = false;
  std::vector<PolicyFileInput> inputs;
  if (!same) {
    for (size_t i = 0; i < listed->size(); ++i) {
      const std::string& file = (*listed)[i];
      inputs.push_back(ReadFile(file, digests[i], next[file], any_changed));
    }
  }
  const bool same_files =
      same || (files_.size() == next.size() &&
               std::equal(files_.begin(), files_.end(), next.begin(),
                          [](const auto& a, const auto& b) {
                            return a.first == b.first;
                          }));
  if (same || (!any_changed && same_files && last_report_.has_value())) {
    // Every file gave what it gave last time (some confined again, to the
    // same outcome): what is in force stays as it is.
    report = *last_report_;
    report.changed = false;
    Metrics::Get().RecordReload(report.rejected_files);
    return report;
  }
  PolicySetLimits limits;
  limits.max_policies_per_namespace = limits_.max_policies_per_namespace;
  limits.max_policies = limits_.max_policies;
  for (const PolicyFileOutcome& o : ComposePolicySet(inputs, limits)) {
    Settle(o, next[o.file], report);
  }
  for (const auto& [file, st] : files_) {
    if (next.count(file) == 0 && !st.serving.empty()) {
      LogInfo("policy file removed", {{"file", file}});
    }
  }
  files_ = std::move(next);
  Metrics::Get().RecordReload(report.rejected_files);
  Install(report);
  last_report_ = report;
  return report;
}

PolicyError PolicyReloader::ListError(const std::string& error) {
  if (error != last_list_error_) {
    LogError("cannot list policies; the current ones keep serving",
             {{"error", error}});
    last_list_error_ = error;
  }
  PolicyError e;
  e.file = path_;
  // The message starts with the path; the error names it once.
  e.message = absl::StartsWith(error, path_ + ": ")
                  ? error.substr(path_.size() + 2)
                  : error;
  return e;
}

PolicyFileInput PolicyReloader::ReadFile(
    const std::string& file, const std::optional<TokenDigest>& digest,
    FileState& st, bool& changed) {
  const auto prev = files_.find(file);
  const bool same_bytes = digest.has_value() && prev != files_.end() &&
                          prev->second.digest == digest;
  st.digest = digest;
  PolicyFileInput in;
  in.file = file;
  if (same_bytes && !prev->second.confinement_reads_files) {
    // The same bytes, confined against the same access: the same outcome.
    st.parsed = prev->second.parsed;
    st.own_errors = prev->second.own_errors;
    st.confined = prev->second.confined;
    st.confinement_reads_files = false;
  } else {
    LoadResult r;
    if (same_bytes) {
      r = prev->second.parsed;
    } else {
      // (Read again by the loader: if the file changed in between, the next
      // reload sees bytes unlike these and parses again.)
      r = LoadPolicyFile(file);
      changed = true;
      ++parses_;
      // Warnings never reject a file; they are logged when it is (re)read.
      for (const PolicyError& w : r.warnings) {
        LogWarn("policy warning",
                {{"file", file}, {"warning", PolicyWarningToString(w)}});
      }
    }
    st.parsed = r;
    std::vector<PolicyError> errors = std::move(r.errors);
    if (errors.empty()) {
      for (const LoadedPolicy& p : r.policies) {
        if (NamespaceServed(p.policy.metadata().namespace_())) continue;
        PolicyError e;
        e.file = p.file;
        e.line = p.line;
        e.policy = KeyOf(p.policy).ToString();
        e.field = "metadata.namespace";
        e.message =
            absl::StrCat("namespace `", p.policy.metadata().namespace_(),
                         "` is not served by this scaler (--namespaces)");
        errors.push_back(std::move(e));
      }
    }
    st.confinement_reads_files = false;
    if (errors.empty()) {
      // Checked at every reload of a policy whose confinement reads files,
      // not only when the file changed: what its credentials paths resolve
      // to may change under it.
      for (LoadedPolicy& p : r.policies) {
        st.confinement_reads_files |= ConfinementReadsFiles(p, access_);
        ConfineSources(p, access_, errors);
      }
    }
    if (same_bytes && ToStrings(errors) != ToStrings(prev->second.own_errors)) {
      changed = true;
    }
    st.own_errors = std::move(errors);
    if (st.own_errors.empty()) st.confined = std::move(r.policies);
  }
  in.errors = st.own_errors;
  if (in.errors.empty()) in.policies = st.confined;
  if (prev != files_.end()) {
    // An unchanged file rejected before and accepted now (or the reverse)
    // changes what is served.
    if (prev->second.errors.empty() != in.errors.empty()) changed = true;
    in.in_force = prev->second.serving;
  }
  return in;
}

void PolicyReloader::Settle(const PolicyFileOutcome& outcome, FileState& st,
                            ReloadReport& report) {
  st.serving = outcome.serving;
  if (outcome.errors.empty()) return;
  const auto prev = files_.find(outcome.file);
  st.errors = ToStrings(outcome.errors);
  ++report.rejected_files;
  report.errors.insert(report.errors.end(), outcome.errors.begin(),
                       outcome.errors.end());
  if (prev != files_.end() && prev->second.errors == st.errors) return;
  // Errors are logged (and counted) when they first appear.
  ++rejected_;
  Metrics::Get().RecordFileRejected();
  std::vector<std::string> serving;
  for (const LoadedPolicy& p : st.serving) {
    serving.push_back(KeyOf(p.policy).ToString());
  }
  for (const PolicyError& e : outcome.errors) {
    LogError(serving.empty() ? "policy file rejected; it serves no policy"
                             : "policy file rejected; its previous policies "
                               "keep serving",
             {{"file", outcome.file},
              {"error", e.ToString()},
              {"serving", absl::StrJoin(serving, ",")}});
  }
}

void PolicyReloader::Install(ReloadReport& report) {
  std::vector<LoadedPolicy> all;
  for (const auto& [file, st] : files_) {
    all.insert(all.end(), st.serving.begin(), st.serving.end());
  }
  auto snapshot = std::make_shared<PolicySnapshot>(std::move(all));
  Metrics::Get().SetPoliciesLoaded(snapshot->policies().size());
  if (SamePolicies(snapshot->policies(), registry_.Get()->policies())) return;
  report.changed = true;
  LogInfo("policies in force",
          {{"policies", absl::StrCat(snapshot->policies().size())},
           {"files", absl::StrCat(files_.size())},
           {"rejected_files", absl::StrCat(report.rejected_files)}});
  registry_.Set(std::move(snapshot));
}

std::vector<PolicyFileStatus> PolicyReloader::Status() const {
  absl::MutexLock lock(&mu_);
  std::vector<PolicyFileStatus> out;
  for (const auto& [file, st] : files_) {
    PolicyFileStatus s;
    s.file = file;
    s.ok = st.errors.empty();
    s.errors = st.errors;
    std::set<std::string> namespaces;
    for (const LoadedPolicy& p : st.serving) {
      s.serving.push_back(KeyOf(p.policy).ToString());
      namespaces.insert(p.policy.metadata().namespace_());
    }
    for (const LoadedPolicy& p : st.parsed.policies) {
      namespaces.insert(p.policy.metadata().namespace_());
    }
    for (const PolicyError& e : st.parsed.errors) {
      if (const size_t slash = e.policy.find('/');
          slash != std::string::npos && slash > 0) {
        namespaces.insert(e.policy.substr(0, slash));
      } else {
        // Invalid YAML, a document without a name...: whose it is, unknown.
        s.namespaces_known = false;
      }
    }
    s.namespaces.assign(namespaces.begin(), namespaces.end());
    out.push_back(std::move(s));
  }
  return out;
}

uint64_t PolicyReloader::reloads() const {
  absl::MutexLock lock(&mu_);
  return reloads_;
}

uint64_t PolicyReloader::parses() const {
  absl::MutexLock lock(&mu_);
  return parses_;
}

uint64_t PolicyReloader::rejected() const {
  absl::MutexLock lock(&mu_);
  return rejected_;
}

void PolicyReloader::Start(absl::Duration period) {
  if (thread_ != nullptr) return;
  if (::pipe(wake_pipe_) != 0) {
    LogError("cannot create the reloader's wake-up pipe; reloads need SIGHUP");
    return;
  }
  // Returns once the watch is armed: a change made after Start() is seen.
  std::promise<void> armed;
  std::future<void> ready = armed.get_future();
  thread_ = std::make_unique<std::thread>(
      [this, period, &armed] { Watch(period, armed); });
  ready.wait();
}

void PolicyReloader::Stop() {
  if (thread_ == nullptr) return;
  const char byte = 0;
  (void)!::write(wake_pipe_[1], &byte, 1);
  thread_->join();
  thread_.reset();
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
  wake_pipe_[0] = wake_pipe_[1] = -1;
}

void PolicyReloader::Watch(absl::Duration period, std::promise<void>& armed) {
  server_internal::DirWatch watch(path_, period);
  watch.Arm();
  armed.set_value();  // (Start() returns; `armed` is gone after this.)
  while (watch.Wait(wake_pipe_[0])) {
    // Before reading: a replaced directory is watched again first, so that
    // nothing written after this read goes unseen.
    watch.Arm();
    Reload();
  }
}

}  // namespace signalscaler
