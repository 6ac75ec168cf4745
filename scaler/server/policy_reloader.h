// Keeps the PolicyRegistry in step with a policies directory (a mounted
// ConfigMap, a projected volume of several, or a plain directory): on a
// change seen by inotify (kubelet's atomic swap of the `..data` symlink, an
// edit, a new or removed file), every `period` as a safety net, and on
// Reload() (SIGHUP).
//
// All or nothing per file: a file that fails to parse or validate (or whose
// policies clash with another file's, or lie outside the served namespaces)
// is rejected with its errors, and the policies it held before keep serving
// unchanged. So is a file whose sources read credentials from outside their
// namespace's directory under --credentials-root, or connect to a host
// --allowed-source-hosts does not allow (SourceAccess). Other files' changes
// still apply.
//
// Duplicates across files and the caps (PolicyLimits) are settled by
// ComposePolicySet (scaler/policy/policy_set.h), which `check` and the first
// load call too, so that they cannot disagree. In short, never by file names,
// which a tenant chooses:
// - the file in force keeps its policy while it still defines it (edited,
//   or broken and so serving its previous version); any other file defining
//   it is rejected, naming the file in force;
// - with no file in force for it (at a start, hence after a restart, where
//   nothing remembers who had it; or the file in force removed), none of the
//   files defining it is loaded: each is rejected naming the others, until
//   only one defines it. GetMetrics for that policy then fails (NOT_FOUND),
//   so the HPA holds and KEDA's fallback applies: no file can take over a
//   policy, nor change its number, by its name.
// - caps: files are taken in name order, and a file whose policies would
//   take a namespace past max_policies_per_namespace, or the scaler past
//   max_policies, is rejected with an error naming the limit; its previous
//   policies keep serving if they still fit.
//
// The inotify watch is scaler/server/internal/dir_watch.h.
//
//   PolicyReloader reloader(dir, registry, {});
//   reloader.Reload();                 // initial load
//   reloader.Start(absl::Seconds(5));  // watch
#ifndef SIGNALSCALER_SCALER_SERVER_POLICY_RELOADER_H_
#define SIGNALSCALER_SCALER_SERVER_POLICY_RELOADER_H_

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scaler/policy/loader.h"
#include "scaler/policy/policy_set.h"
#include "scaler/server/access_policy.h"
#include "scaler/server/limits.h"
#include "scaler/server/policy_registry.h"
#include "sources/factory.h"

namespace signalscaler {

// The policy namespaces a scaler serves; empty: every namespace.
using NamespaceSet = absl::flat_hash_set<std::string>;

struct PolicyFileStatus {
  std::string file;
  bool ok = true;                    // the file's latest content is in force
  std::vector<std::string> errors;   // why it was rejected (ToString() each)
  std::vector<std::string> serving;  // "ns/name" of the policies in force
  // Every namespace the file's latest content declares (its valid policies
  // and those its errors name) and those it serves, sorted, unique: who may
  // read the file's status (a file that parses into nothing has none).
  std::vector<std::string> namespaces;
  // False when an error names no policy (invalid YAML, a document without
  // a name): the file may declare namespaces that `namespaces` lacks.
  bool namespaces_known = true;
};

struct ReloadReport {
  bool changed = false;  // the served set changed
  int rejected_files = 0;
  std::vector<PolicyError> errors;  // of this reload
};

// Thread-safe, but for Start() and Stop() (one caller at a time); reloads
// are serialized.
class PolicyReloader {
 public:
  // `access`: where the policies' sources may read credentials from and
  // connect to (ConfineSources in sources/factory.h); a file with a source
  // outside it is rejected like any invalid file, every reload (a symlink
  // swapped under the credentials root is seen without the file changing).
  PolicyReloader(std::string path, PolicyRegistry& registry,
                 NamespaceSet namespaces, PolicyLimits limits = PolicyLimits(),
                 SourceAccess access = SourceAccess());
  ~PolicyReloader();

  // Re-reads every file now and installs the result if it changed. Errors
  // are logged when they first appear (not again while the file stays the
  // same), and counted.
  ReloadReport Reload();

  // Watches the directory on a thread of its own, reloading on changes
  // (debounced) and every `period`; returns once the watch is armed. The
  // directory's entry in its parent is watched too: a directory replaced
  // (`mv dir dir.old; mkdir dir`), or a symlink to it swapped, is watched
  // again at once.
  void Start(absl::Duration period);
  void Stop();

  std::vector<PolicyFileStatus> Status() const;
  uint64_t reloads() const;
  uint64_t rejected() const;  // file rejections since start
  // Files parsed since start: a reload parses only files whose bytes changed.
  uint64_t parses() const;

 private:
  struct FileState {
    std::vector<LoadedPolicy> serving;  // last good
    std::vector<std::string> errors;    // latest rejection, empty when ok
    // The SHA-256 of the bytes last parsed, and what they gave: an unchanged
    // file is not parsed again (a periodic reload of 10,000 policies is then
    // a read). A digest, not the bytes: they were 2.6 KB per policy.
    std::optional<TokenDigest> digest;
    LoadResult parsed;
    // What ReadFile made of those bytes: the file's own errors and its
    // policies, confined. Kept for the same bytes unless the confinement
    // reads files (ConfinementReadsFiles): a periodic reload of unchanged
    // files then neither confines nor composes 10,000 policies again.
    std::vector<PolicyError> own_errors;
    std::vector<LoadedPolicy> confined;
    bool confinement_reads_files = true;
  };
  // Reload()'s steps, under mu_.
  PolicyError ListError(const std::string& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One file as read now (its own errors, and what it served before);
  // `changed` is set when what it gives may differ from the last reload.
  // `digest`: of its bytes as read now (none: unreadable).
  PolicyFileInput ReadFile(const std::string& file,
                           const std::optional<TokenDigest>& digest,
                           FileState& st, bool& changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records (and logs) one file's outcome of the composition.
  void Settle(const PolicyFileOutcome& outcome, FileState& st,
              ReloadReport& report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Installs what files_ serves, if it is not what the registry has.
  void Install(ReloadReport& report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void Watch(absl::Duration period, std::promise<void>& armed);
  bool NamespaceServed(const std::string& ns) const;

  const std::string path_;
  PolicyRegistry& registry_;
  const NamespaceSet namespaces_;
  const PolicyLimits limits_;
  const SourceAccess access_;

  // Serializes Reload() and guards what the reloads keep: these fields.
  mutable absl::Mutex mu_;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  std::string last_list_error_ ABSL_GUARDED_BY(mu_);
  uint64_t reloads_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t parses_ ABSL_GUARDED_BY(mu_) = 0;
  // The last composition's report: a reload that read nothing new repeats
  // it (its errors) without composing again.
  std::optional<ReloadReport> last_report_ ABSL_GUARDED_BY(mu_);

  // Not guarded: set by Start() and cleared by Stop() on the owner's thread
  // (neither may run beside the other); the watch thread only reads
  // wake_pipe_[0], which stays open until Stop() has joined it.
  std::unique_ptr<std::thread> thread_;
  int wake_pipe_[2] = {-1, -1};
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_POLICY_RELOADER_H_
