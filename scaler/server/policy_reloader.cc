#include "scaler/server/policy_reloader.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/common/log.h"
#include "scaler/common/metrics.h"

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

std::string IdOf(const LoadedPolicy& p) { return KeyOf(p.policy).ToString(); }

// Whether two policy lists are the same policies from the same places.
bool SamePolicies(const std::vector<LoadedPolicy>& a,
                  const std::vector<LoadedPolicy>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].file != b[i].file || a[i].line != b[i].line ||
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

// Policies accepted so far in a reload, per namespace and in all.
struct PolicyCounts {
  std::map<std::string, size_t> by_namespace;
  size_t total = 0;

  void Add(const std::vector<LoadedPolicy>& policies) {
    for (const LoadedPolicy& p : policies) {
      ++by_namespace[p.policy.metadata().namespace_()];
    }
    total += policies.size();
  }
};

// Why adding `policies` (from `file`) to `counts` would break `limits`;
// empty when it would not.
std::vector<PolicyError> CapErrors(const std::string& file,
                                   const std::vector<LoadedPolicy>& policies,
                                   const PolicyCounts& counts,
                                   const PolicyLimits& limits) {
  std::vector<PolicyError> errors;
  PolicyCounts added;
  added.Add(policies);
  for (const auto& [ns, n] : added.by_namespace) {
    const auto it = counts.by_namespace.find(ns);
    const size_t after = n + (it != counts.by_namespace.end() ? it->second : 0);
    if (after > limits.max_policies_per_namespace) {
      PolicyError e;
      e.file = file;
      e.message = absl::StrCat("namespace `", ns, "` would hold ", after,
                               " policies; the limit is ",
                               limits.max_policies_per_namespace,
                               " per namespace (--max-policies-per-namespace)");
      errors.push_back(std::move(e));
    }
  }
  if (counts.total + added.total > limits.max_policies) {
    PolicyError e;
    e.file = file;
    e.message = absl::StrCat(
        "the scaler would hold ", counts.total + added.total,
        " policies; the limit is ", limits.max_policies, " (--max-policies)");
    errors.push_back(std::move(e));
  }
  return errors;
}

}  // namespace

PolicyReloader::PolicyReloader(std::string path, PolicyRegistry& registry,
                               NamespaceSet namespaces, PolicyLimits limits)
    : path_(std::move(path)),
      registry_(registry),
      namespaces_(std::move(namespaces)),
      limits_(limits) {}

PolicyReloader::~PolicyReloader() { Stop(); }

bool PolicyReloader::NamespaceServed(const std::string& ns) const {
  return namespaces_.empty() || namespaces_.contains(ns);
}

ReloadReport PolicyReloader::Reload() {
  std::lock_guard<std::mutex> lock(mu_);
  ReloadReport report;
  ++reloads_;
  absl::StatusOr<std::vector<std::string>> listed = ListPolicyFiles(path_);
  if (!listed.ok()) {
    // The directory is unreadable right now: keep everything as it is.
    const std::string error(listed.status().message());
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
    report.errors.push_back(std::move(e));
    return report;
  }
  last_list_error_.clear();

  std::map<std::string, FileState> next;
  bool any_parsed = false;
  std::map<std::string, const LoadedPolicy*> by_id;  // across accepted files
  PolicyCounts counts;                               // of accepted files
  for (const std::string& file : *listed) {
    FileState& st = next[file];
    const auto prev = files_.find(file);
    const std::vector<LoadedPolicy> previous =
        prev != files_.end() ? prev->second.serving
                             : std::vector<LoadedPolicy>{};
    std::optional<std::string> content = ReadCapped(file);
    LoadResult r;
    if (content.has_value() && prev != files_.end() &&
        prev->second.content == content) {
      r = prev->second.parsed;
    } else {
      // (Read again by the loader: if the file changed in between, the next
      // reload sees bytes unlike these and parses again.)
      r = LoadPolicyFile(file);
      any_parsed = true;
      ++parses_;
    }
    st.content = std::move(content);
    st.parsed = r;
    std::vector<PolicyError> errors = std::move(r.errors);
    if (errors.empty()) {
      for (const LoadedPolicy& p : r.policies) {
        if (!NamespaceServed(p.policy.metadata().namespace_())) {
          PolicyError e;
          e.file = p.file;
          e.line = p.line;
          e.policy = IdOf(p);
          e.field = "metadata.namespace";
          e.message =
              absl::StrCat("namespace `", p.policy.metadata().namespace_(),
                           "` is not served by this scaler (--namespaces)");
          errors.push_back(std::move(e));
        }
      }
    }
    if (errors.empty()) {
      for (const LoadedPolicy& p : r.policies) {
        if (auto it = by_id.find(IdOf(p)); it != by_id.end()) {
          errors.push_back(DuplicatePolicyError(p, *it->second));
        }
      }
    }
    if (errors.empty()) {
      errors = CapErrors(file, r.policies, counts, limits_);
    }
    if (errors.empty()) {
      st.serving = std::move(r.policies);
    } else {
      // Rejected: the file's last good policies keep serving, unless they
      // now clash with another file's or no longer fit the caps.
      bool clash = false;
      for (const LoadedPolicy& p : previous) clash |= by_id.count(IdOf(p)) > 0;
      if (!clash && CapErrors(file, previous, counts, limits_).empty()) {
        st.serving = previous;
      }
      st.errors = ToStrings(errors);
      ++report.rejected_files;
      const bool new_errors =
          prev == files_.end() || prev->second.errors != st.errors;
      if (new_errors) {
        ++rejected_;
        Metrics::Get().RecordFileRejected();
        for (const PolicyError& e : errors) {
          LogError("policy file rejected; its previous policies keep serving",
                   {{"file", file}, {"error", e.ToString()}});
        }
      }
      report.errors.insert(report.errors.end(), errors.begin(), errors.end());
    }
    for (const LoadedPolicy& p : st.serving) by_id.emplace(IdOf(p), &p);
    counts.Add(st.serving);
  }
  for (const auto& [file, st] : files_) {
    if (next.count(file) == 0 && !st.serving.empty()) {
      LogInfo("policy file removed", {{"file", file}});
    }
  }
  const bool same_files = files_.size() == next.size() &&
                          std::equal(files_.begin(), files_.end(), next.begin(),
                                     [](const auto& a, const auto& b) {
                                       return a.first == b.first;
                                     });
  files_ = std::move(next);
  if (!any_parsed && same_files) {
    // Nothing was read again: what is in force stays.
    Metrics::Get().RecordReload(report.rejected_files);
    return report;
  }

  std::vector<LoadedPolicy> all;
  for (const auto& [file, st] : files_) {
    all.insert(all.end(), st.serving.begin(), st.serving.end());
  }
  auto snapshot = std::make_shared<PolicySnapshot>(std::move(all));
  Metrics::Get().RecordReload(report.rejected_files);
  Metrics::Get().SetPoliciesLoaded(snapshot->policies().size());
  if (!SamePolicies(snapshot->policies(), registry_.Get()->policies())) {
    report.changed = true;
    LogInfo("policies in force",
            {{"policies", absl::StrCat(snapshot->policies().size())},
             {"files", absl::StrCat(files_.size())},
             {"rejected_files", absl::StrCat(report.rejected_files)}});
    registry_.Set(std::move(snapshot));
  }
  return report;
}

std::vector<PolicyFileStatus> PolicyReloader::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PolicyFileStatus> out;
  for (const auto& [file, st] : files_) {
    PolicyFileStatus s;
    s.file = file;
    s.ok = st.errors.empty();
    s.errors = st.errors;
    for (const LoadedPolicy& p : st.serving) s.serving.push_back(IdOf(p));
    out.push_back(std::move(s));
  }
  return out;
}

uint64_t PolicyReloader::reloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reloads_;
}

uint64_t PolicyReloader::parses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parses_;
}

uint64_t PolicyReloader::rejected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rejected_;
}

void PolicyReloader::Start(absl::Duration period) {
  if (thread_ != nullptr) return;
  if (::pipe(wake_pipe_) != 0) {
    LogError("cannot create the reloader's wake-up pipe; reloads need SIGHUP");
    return;
  }
  thread_ = std::make_unique<std::thread>([this, period] { Watch(period); });
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

void PolicyReloader::Watch(absl::Duration period) {
  // Watch the directory itself (or a single file's directory): kubelet's
  // `..data` swap is a rename inside it.
  std::error_code ec;
  const std::filesystem::path p(path_);
  const std::string dir =
      std::filesystem::is_directory(p, ec) ? path_ : p.parent_path().string();
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0 ||
      ::inotify_add_watch(fd, dir.empty() ? "." : dir.c_str(),
                          IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE |
                              IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                              IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
    LogWarn("cannot watch the policies directory; reloading every period",
            {{"dir", dir}, {"period", absl::FormatDuration(period)}});
  }
  const int period_ms = static_cast<int>(absl::ToInt64Milliseconds(period));
  const auto drain = [fd] {
    char buf[4096];
    while (fd >= 0 && ::read(fd, buf, sizeof(buf)) > 0) {
    }
  };
  while (true) {
    pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {fd, POLLIN, 0}};
    const int n = ::poll(fds, fd >= 0 ? 2 : 1, period_ms);
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) break;  // Stop()
    if (n > 0 && fds[1].revents != 0) {
      // Debounce: a kubelet update is several events in a few ms.
      do {
        drain();
        fds[1].revents = 0;
      } while (::poll(&fds[1], 1, 100) > 0);
    }
    Reload();
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace signalscaler
