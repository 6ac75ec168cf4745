#include "scaler/server/policy_reloader.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
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
#include "scaler/policy/warnings.h"

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

// The error for `again` having the namespace/name of `in_force`, which
// another file serves: the file in force keeps it.
PolicyError InForceDuplicateError(const LoadedPolicy& again,
                                  const LoadedPolicy& in_force) {
  PolicyError e = DuplicatePolicyError(again, in_force);
  e.message = absl::StrCat(
      "duplicate policy name `", again.policy.metadata().name(),
      "` in namespace `", again.policy.metadata().namespace_(),
      "`: already in force from ", in_force.file, ":", in_force.line,
      ", which keeps serving it; this file is rejected until one of the two "
      "no longer defines it");
  return e;
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

  // 1. Each file alone: read (parsed again only if its bytes changed), then
  // its own errors (YAML, validation, namespaces not served).
  struct Candidate {
    std::vector<LoadedPolicy> policies;  // the file's latest content
    std::vector<PolicyError> errors;     // why it is rejected; empty: ok
    bool own_errors = false;             // rejected on its own account
  };
  std::map<std::string, FileState> next;
  std::map<std::string, Candidate> candidates;  // by file, in name order
  bool any_parsed = false;
  for (const std::string& file : *listed) {
    FileState& st = next[file];
    const auto prev = files_.find(file);
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
      // Warnings never reject a file; they are logged when it is (re)read.
      for (const PolicyError& w : r.warnings) {
        LogWarn("policy warning",
                {{"file", file}, {"warning", PolicyWarningToString(w)}});
      }
    }
    st.content = std::move(content);
    st.parsed = r;
    Candidate& c = candidates[file];
    c.errors = std::move(r.errors);
    if (c.errors.empty()) {
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
          c.errors.push_back(std::move(e));
        }
      }
    }
    if (c.errors.empty()) {
      // Checked at every reload, not only when the file changed: what its
      // credentials paths resolve to may change under it.
      for (LoadedPolicy& p : r.policies) ConfineSources(p, access_, c.errors);
    }
    // An unchanged file rejected before and accepted now (or the reverse)
    // changes what is served.
    if (prev != files_.end() &&
        prev->second.errors.empty() != c.errors.empty()) {
      any_parsed = true;
    }
    c.own_errors = !c.errors.empty();
    if (!c.own_errors) c.policies = std::move(r.policies);
  }

  // 2. The policies in force stay with their file while it is still there
  // and still defines them, or is rejected on its own account (its previous
  // version keeps serving).
  std::map<std::string, const LoadedPolicy*> held;  // id -> policy in force
  for (const auto& [file, c] : candidates) {
    const auto prev = files_.find(file);
    if (prev == files_.end()) continue;
    absl::flat_hash_set<std::string> defined;
    for (const LoadedPolicy& q : c.policies) defined.insert(IdOf(q));
    for (const LoadedPolicy& p : prev->second.serving) {
      std::string id = IdOf(p);
      if (c.own_errors || defined.contains(id)) held.emplace(std::move(id), &p);
    }
  }

  // 3. Duplicates across files, whatever the file names: another file
  // defining a policy in force is rejected, naming the file in force; a
  // policy in force nowhere that several files define is loaded from none
  // of them (all are rejected, each naming the others), as at a start.
  std::map<std::string, std::vector<const LoadedPolicy*>> claimants;
  for (const auto& [file, c] : candidates) {
    for (const LoadedPolicy& p : c.policies) {
      if (held.count(IdOf(p)) == 0) claimants[IdOf(p)].push_back(&p);
    }
  }
  for (auto& [file, c] : candidates) {
    if (c.own_errors) continue;
    for (const LoadedPolicy& p : c.policies) {
      const std::string id = IdOf(p);
      if (const auto h = held.find(id); h != held.end()) {
        if (h->second->file != file) {
          c.errors.push_back(InForceDuplicateError(p, *h->second));
        }
        continue;
      }
      const std::vector<const LoadedPolicy*>& all = claimants[id];
      if (all.size() < 2) continue;
      std::vector<const LoadedPolicy*> others;
      for (const LoadedPolicy* o : all) {
        if (o != &p) others.push_back(o);
      }
      c.errors.push_back(DuplicateAcrossFilesError(p, others));
    }
  }
  // Who serves each policy now that duplicates are settled (caps aside).
  std::map<std::string, std::string> claimed;  // id -> file
  for (const auto& [file, c] : candidates) {
    if (!c.errors.empty()) continue;
    for (const LoadedPolicy& p : c.policies) claimed.emplace(IdOf(p), file);
  }

  // 4. Caps, in name order; then what each file serves.
  PolicyCounts counts;  // of what is served
  for (auto& [file, c] : candidates) {
    FileState& st = next[file];
    const auto prev = files_.find(file);
    if (c.errors.empty()) {
      c.errors = CapErrors(file, c.policies, counts, limits_);
    }
    if (c.errors.empty()) {
      st.serving = std::move(c.policies);
    } else {
      // Rejected: the file's last good policies keep serving, except those
      // its new content gave up that another file now serves, and unless
      // they no longer fit the caps.
      std::vector<LoadedPolicy> kept;
      if (prev != files_.end()) {
        for (const LoadedPolicy& p : prev->second.serving) {
          const auto it = claimed.find(IdOf(p));
          if (it == claimed.end() || it->second == file) kept.push_back(p);
        }
      }
      if (CapErrors(file, kept, counts, limits_).empty()) {
        st.serving = std::move(kept);
      }
      st.errors = ToStrings(c.errors);
      ++report.rejected_files;
      const bool new_errors =
          prev == files_.end() || prev->second.errors != st.errors;
      if (new_errors) {
        ++rejected_;
        Metrics::Get().RecordFileRejected();
        std::vector<std::string> serving;
        for (const LoadedPolicy& p : st.serving) serving.push_back(IdOf(p));
        for (const PolicyError& e : c.errors) {
          LogError(serving.empty()
                       ? "policy file rejected; it serves no policy"
                       : "policy file rejected; its previous policies keep "
                         "serving",
                   {{"file", file},
                    {"error", e.ToString()},
                    {"serving", absl::StrJoin(serving, ",")}});
        }
      }
      report.errors.insert(report.errors.end(), c.errors.begin(),
                           c.errors.end());
    }
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
    std::set<std::string> namespaces;
    for (const LoadedPolicy& p : st.serving) {
      s.serving.push_back(IdOf(p));
      namespaces.insert(p.policy.metadata().namespace_());
    }
    for (const LoadedPolicy& p : st.parsed.policies) {
      namespaces.insert(p.policy.metadata().namespace_());
    }
    for (const PolicyError& e : st.parsed.errors) {
      if (const size_t slash = e.policy.find('/');
          slash != std::string::npos && slash > 0) {
        namespaces.insert(e.policy.substr(0, slash));
      }
    }
    s.namespaces.assign(namespaces.begin(), namespaces.end());
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

namespace {

// One inotify watch on a path, re-armed when the path comes to name another
// inode (a directory replaced by `mv dir dir.old; mkdir dir`, a symlink
// swapped): inotify watches inodes, not names.
struct PathWatch {
  std::string path;
  uint32_t mask = 0;
  int wd = -1;
  dev_t dev = 0;
  ino_t ino = 0;

  // Whether the watch was (re-)armed or dropped.
  bool Arm(int fd) {
    struct stat st;
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (wd >= 0 && exists && st.st_dev == dev && st.st_ino == ino) {
      return false;
    }
    if (wd >= 0) {
      // Gone already when the kernel sent IN_IGNORED; harmless then.
      (void)::inotify_rm_watch(fd, wd);
      wd = -1;
    }
    if (!exists) return true;
    wd = ::inotify_add_watch(fd, path.c_str(), mask);
    dev = st.st_dev;
    ino = st.st_ino;
    return true;
  }
};

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MODIFY |
                              IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                              IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
// The parent: only the entry of the watched directory matters (created,
// removed, renamed, or a symlink replaced).
constexpr uint32_t kParentMask =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB;

}  // namespace

void PolicyReloader::Watch(absl::Duration period, std::promise<void>& armed) {
  // Watch the directory itself (or a single file's directory): kubelet's
  // `..data` swap is a rename inside it. And its parent, for the entry of
  // that directory: when the directory is replaced, the watch moves to the
  // new one at once instead of following the old inode away.
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::path(path_).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "dir/"
  fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
  if (dir.empty()) dir = ".";
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  const std::string dir_name = dir.filename().string();
  PathWatch dir_watch{dir.string(), kDirMask};
  PathWatch parent_watch{parent.string(), kParentMask};
  const bool has_parent = dir_name != "." && dir_name != ".." &&
                          !dir_name.empty() &&
                          fs::absolute(parent, ec).lexically_normal() !=
                              fs::absolute(dir, ec).lexically_normal();

  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  bool warned = false;
  const auto arm = [&] {
    if (fd < 0) return;
    if (has_parent) parent_watch.Arm(fd);
    if (dir_watch.Arm(fd) && dir_watch.wd >= 0 && warned) {
      LogInfo("watching the policies directory again",
              {{"dir", dir_watch.path}});
      warned = false;
    }
    if (dir_watch.wd < 0 && !warned) {
      LogWarn(
          "cannot watch the policies directory; reloading every period",
          {{"dir", dir_watch.path}, {"period", absl::FormatDuration(period)}});
      warned = true;
    }
  };
  if (fd < 0) {
    LogWarn(
        "cannot watch the policies directory; reloading every period",
        {{"dir", dir_watch.path}, {"period", absl::FormatDuration(period)}});
  }
  arm();
  armed.set_value();  // (Start() returns; `armed` is gone after this.)

  // Reads the pending events; true if one of them matters (anything in the
  // directory, the directory itself, or its entry in the parent).
  const auto drain = [&] {
    bool relevant = false;
    alignas(struct inotify_event) char buf[8192];
    ssize_t n;
    while (fd >= 0 && (n = ::read(fd, buf, sizeof(buf))) > 0) {
      for (ssize_t off = 0; off < n;) {
        const auto* ev =
            reinterpret_cast<const struct inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
        if (has_parent && ev->wd == parent_watch.wd && ev->wd != dir_watch.wd) {
          if (ev->len > 0 && dir_name == ev->name) relevant = true;
          if ((ev->mask & (IN_IGNORED | IN_Q_OVERFLOW)) != 0) relevant = true;
          continue;
        }
        relevant = true;  // The directory, its own fate, or an overflow.
      }
    }
    return relevant;
  };

  absl::Time next_periodic = absl::Now() + period;
  while (true) {
    const int64_t wait_ms = std::max<int64_t>(
        0, absl::ToInt64Milliseconds(next_periodic - absl::Now()));
    pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {fd, POLLIN, 0}};
    const int n = ::poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(wait_ms));
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) break;  // Stop()
    bool reload = absl::Now() >= next_periodic;
    if (n > 0 && fds[1].revents != 0 && drain()) {
      // Debounce: a kubelet update is several events in a few ms. Stop once
      // 100 ms pass without a relevant event, and after 1 s in any case.
      const absl::Time limit = absl::Now() + absl::Seconds(1);
      pollfd one = {fd, POLLIN, 0};
      while (absl::Now() < limit) {
        const absl::Time quiet = absl::Now() + absl::Milliseconds(100);
        bool more = false;
        while (!more && absl::Now() < quiet) {
          const int left = static_cast<int>(std::max<int64_t>(
              1, absl::ToInt64Milliseconds(quiet - absl::Now())));
          one.revents = 0;
          if (::poll(&one, 1, left) <= 0) break;
          more = drain();
        }
        if (!more) break;
      }
      reload = true;
    }
    if (!reload) continue;
    // Before reading: a replaced directory is watched again first, so that
    // nothing written after this read goes unseen.
    arm();
    Reload();
    next_periodic = absl::Now() + period;
  }
  if (fd >= 0) ::close(fd);
}

}  // namespace signalscaler
