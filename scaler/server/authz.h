// Who may call the admin API, and optionally KEDA's: `serve --authz-file`,
// an AdminAccess document naming clients by bearer token or verified client
// certificate, each with the namespaces and verbs it may act on. gRPC-free:
// the gRPC edge fills CallerCredentials from the call (the one place that
// reads a call's metadata and peer) and asks AccessControl.
//
//   apiVersion: signalscaler.io/v1
//   kind: AdminAccess
//   clients:
//   - name: team-a-pusher
//     tokenSha256: 9f86d081884c7d65...   # hex SHA-256 of a bearer token
//     namespaces: [team-a]
//     verbs: [push, explain]
//   - name: team-b-keda
//     certificate: {uriSAN: "spiffe://cluster.local/ns/team-b/sa/keda"}
//     namespaces: [team-b]
//     verbs: [keda]
//
// Three modes for the admin API (Push, Explain, Policies):
// - a file in force (kFile): a call is identified by its `authorization:
//   Bearer TOKEN` metadata (when sent: a token no client has is
//   UNAUTHENTICATED, whatever certificate comes with it), else by its
//   verified client certificate; neither: UNAUTHENTICATED. What the caller
//   may do is the union of the grants of every client entry it matches. A
//   verb or namespace outside them is PERMISSION_DENIED, with a message that
//   never says whether the namespace or policy exists.
// - no file, --admin-allow-any (kAllowAny): every caller may do everything.
// - no file (kLoopbackOnly, the default): callers from a loopback peer may
//   do everything; any other is PERMISSION_DENIED.
// KEDA's calls are checked only when the file in force has a client with
// the verb `keda`: then each must present a certificate matching such a
// client for the ScaledObjectRef's namespace (KEDA presents one client
// certificate per TriggerAuthentication, hence per namespace; it sends no
// token).
//
// Only SHA-256 digests of tokens are held, compared in constant time
// (every client's, whichever matches). No token, digest or certificate
// content reaches an error or a log line: errors name the file and field.
//
// The file is re-read every `refresh` and on Reload() (SIGHUP); a file that
// fails to read or parse keeps the last good one in force (logged once per
// distinct error, counted in signalscaler_authz_reloads_total{result}).
#ifndef SIGNALSCALER_SCALER_SERVER_AUTHZ_H_
#define SIGNALSCALER_SCALER_SERVER_AUTHZ_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scaler/server/access_policy.h"

namespace signalscaler {

// What a call presents, as the gRPC edge reads it.
struct CallerCredentials {
  // An `authorization` metadata entry was sent; `bearer_token` is its token
  // when it has the form "Bearer TOKEN" (else empty: refused).
  bool has_authorization = false;
  std::string bearer_token;
  // The TLS peer presented a certificate the client CA verified.
  bool certificate_verified = false;
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  std::string common_name;
  // The peer is 127.0.0.1, ::1 or a Unix socket (IsLoopbackPeer).
  bool loopback = false;
  // The peer certificate's first identity (a SAN, else the CN), printable
  // and bounded, for the audit trail in the modes without a file; empty
  // without a verified certificate.
  std::string certificate_name;
};

// Whether gRPC's peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000",
// "unix:/path", URL-escaped or not) is a loopback or local peer.
bool IsLoopbackPeer(absl::string_view peer);

// The client a call was identified as, and what it may do.
class Caller {
 public:
  // Everything allowed (the modes without a file).
  static Caller Unrestricted(std::string name);
  Caller(std::string name, std::shared_ptr<const AccessPolicy> policy,
         std::vector<const AccessClient*> grants);

  // For the audit trail, the metric and the push rate limit: the first
  // matching client's name (the file's), or the certificate's identity, or
  // "anonymous".
  const std::string& name() const { return name_; }
  bool May(AccessVerb verb, absl::string_view ns) const;
  // Some namespace at all.
  bool MayAnywhere(AccessVerb verb) const;
  // Every namespace (unrestricted, or a grant with namespaces ["*"]).
  bool MayEverywhere(AccessVerb verb) const;
  // PERMISSION_DENIED unless May(verb, ns): "client NAME may not VERB in
  // namespace NS" (never whether it exists).
  absl::Status Authorize(AccessVerb verb, absl::string_view ns) const;

 private:
  std::string name_;
  bool unrestricted_ = false;
  std::shared_ptr<const AccessPolicy> policy_;  // keeps grants_ alive
  std::vector<const AccessClient*> grants_;
};

enum class AccessMode { kLoopbackOnly, kAllowAny, kFile };

// The client of an admin call identified by neither token nor certificate.
inline constexpr char kAnonymousClient[] = "anonymous";
// The audit name of a call whose credentials match no client of the file.
inline constexpr char kUnauthenticatedClient[] = "unauthenticated";

struct AccessOptions {
  std::string file;        // --authz-file; empty: no file
  bool allow_any = false;  // --admin-allow-any (only without a file)
  // --tls-client-ca is set: client certificates are asked for and verified.
  bool client_certificates = false;
  absl::Duration refresh = absl::Seconds(5);  // --authz-refresh-seconds
};

// Thread-safe. The policy in force is swapped atomically on a good reload.
class AccessControl {
 public:
  // Reads and parses the file now (INVALID_ARGUMENT naming it and the field
  // when it is unreadable or invalid); none with allow_any together is
  // INVALID_ARGUMENT too.
  static absl::StatusOr<std::unique_ptr<AccessControl>> Create(
      AccessOptions options);
  ~AccessControl();
  AccessControl(const AccessControl&) = delete;
  AccessControl& operator=(const AccessControl&) = delete;

  AccessMode mode() const { return mode_; }

  // An admin call's client: UNAUTHENTICATED (kFile: a token that matches no
  // client, an `authorization` that is not a Bearer token, or neither token
  // nor matching certificate), PERMISSION_DENIED (kLoopbackOnly: a peer
  // that is not loopback). On error `audit_name` (optional) gets the name
  // to record the refusal under.
  absl::StatusOr<Caller> IdentifyAdmin(const CallerCredentials& creds,
                                       std::string* audit_name) const;

  // A KEDA call for namespace `ns`: OK unless the file in force has a
  // `keda` client; then UNAUTHENTICATED when the call's certificate matches
  // no `keda` client, PERMISSION_DENIED when those it matches do not cover
  // `ns`. `client` (optional) gets the name to audit the call under.
  absl::Status AuthorizeKeda(const CallerCredentials& creds,
                             absl::string_view ns, std::string* client) const;
  bool keda_restricted() const;

  // Re-reads the file (kFile); keeps the last good policy when it fails.
  // Returns the read's result. Reloads are serialized (the refresh thread
  // and SIGHUP): an older read never replaces a newer one.
  absl::Status Reload();
  // Called (on the reloading thread, no lock held) after a reload put a
  // changed file in force while KEDA calls were or are checked (a `keda`
  // client before or after): the server ends its open KEDA streams with OK,
  // so that KEDA reconnects (after 2 s) and each stream is authorized again
  // under the new file. Set before Start().
  void SetOnChange(std::function<void()> on_change);
  // Reloads every options.refresh on a thread of its own (kFile only).
  void Start();
  void Stop();
  uint64_t good_reloads() const;
  uint64_t failed_reloads() const;

 private:
  AccessControl(AccessOptions options, AccessMode mode);
  std::shared_ptr<const AccessPolicy> Current() const;
  // Every client matching `creds` by certificate (all, in file order).
  static std::vector<const AccessClient*> CertificateMatches(
      const AccessPolicy& policy, const CallerCredentials& creds);

  const AccessOptions options_;
  const AccessMode mode_;
  std::function<void()> on_change_;  // set before Start()
  absl::Mutex reload_mu_;            // serializes Reload()

  // Lock order: reload_mu_, then mu_.
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(reload_mu_);
  std::shared_ptr<const AccessPolicy> policy_ ABSL_GUARDED_BY(mu_);
  std::string content_ ABSL_GUARDED_BY(mu_);  // in force
  // Of the latest rejected read, so that it is parsed and counted once.
  std::optional<std::string> rejected_content_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  uint64_t good_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar cv_;
  std::unique_ptr<std::thread> thread_;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_AUTHZ_H_
