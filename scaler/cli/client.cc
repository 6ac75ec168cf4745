// `signalscaler push` and `signalscaler explain`: clients of the admin API.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/admin.grpc.pb.h"
#include "scaler/cli/commands.h"
#include "scaler/cli/flags.h"

namespace signalscaler {
namespace {

constexpr char kDefaultAddress[] = "127.0.0.1:9090";

int UsageError(const char* command, absl::string_view message) {
  std::fprintf(stderr, "signalscaler %s: %s\n", command,
               std::string(message).c_str());
  return 2;
}

// Parses the flags; returns -1 to go on, else the exit code.
int ParseOrExit(FlagSet& flags, const char* command, int argc, char** argv) {
  if (absl::Status s = flags.Parse(argc, argv, 2); !s.ok()) {
    return UsageError(command, s.message());
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  return -1;
}

// The flags of a connection to the gRPC port, plaintext or TLS.
void AddConnectionFlags(FlagSet& flags) {
  flags.Add("address", kDefaultAddress,
            "HOST:PORT of signalscaler's gRPC port");
  flags.Add("tls-ca", "",
            "PEM CA bundle that verifies the server's certificate; any --tls-* "
            "flag turns TLS on (without --tls-ca: the system's CAs)");
  flags.Add("tls-cert", "",
            "PEM client certificate, for a server that requires one (mTLS)");
  flags.Add("tls-key", "", "PEM private key of --tls-cert");
  flags.Add("tls-server-name", "",
            "the name to verify in the server's certificate, when it differs "
            "from --address's host (e.g. through a port-forward)");
  flags.Add("token-file", "",
            "file holding a bearer token of the server's --authz-file, sent "
            "as `authorization: Bearer TOKEN` (surrounding whitespace "
            "trimmed)");
}

// Adds --token-file's token to the call; INVALID_ARGUMENT naming the file
// (never its content) when it cannot be read, is empty or is not one
// printable ASCII word.
absl::Status AddToken(const FlagSet& flags, grpc::ClientContext& ctx) {
  const std::string path = flags.Get("token-file");
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path, std::ios::binary);
  std::string text;
  if (in) {
    text.resize(64 * 1024 + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
  }
  if (!in && !in.eof()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read --token-file ", path));
  }
  const absl::string_view token = absl::StripAsciiWhitespace(text);
  if (token.empty() || token.size() > 64 * 1024 ||
      !std::all_of(token.begin(), token.end(),
                   [](char c) { return c > ' ' && c < 127; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--token-file ", path,
        ": must hold one token of printable ASCII, at most 64 KiB"));
  }
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPem(const std::string& flag,
                                    const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read --", flag, " ", path));
  }
  return text.str();
}

// A channel to --address with the --tls-* flags; INVALID_ARGUMENT naming a
// flag whose file cannot be read, or a certificate without its key.
absl::StatusOr<std::unique_ptr<admin::v1::Admin::Stub>> Connect(
    const FlagSet& flags) {
  const std::string address = flags.Get("address");
  const bool tls =
      !flags.Get("tls-ca").empty() || !flags.Get("tls-cert").empty() ||
      !flags.Get("tls-key").empty() || !flags.Get("tls-server-name").empty();
  if (!tls) {
    return admin::v1::Admin::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  if (flags.Get("tls-cert").empty() != flags.Get("tls-key").empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  grpc::SslCredentialsOptions ssl;
  for (auto [flag, field] :
       {std::pair<const char*, std::string*>{"tls-ca", &ssl.pem_root_certs},
        {"tls-cert", &ssl.pem_cert_chain},
        {"tls-key", &ssl.pem_private_key}}) {
    absl::StatusOr<std::string> pem = ReadPem(flag, flags.Get(flag));
    if (!pem.ok()) return pem.status();
    *field = *std::move(pem);
  }
  grpc::ChannelArguments args;
  if (const std::string name = flags.Get("tls-server-name"); !name.empty()) {
    args.SetSslTargetNameOverride(name);
  }
  return admin::v1::Admin::NewStub(
      grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args));
}

int RpcFailed(const char* command, const std::string& address,
              const grpc::Status& s) {
  std::fprintf(
      stderr, "signalscaler %s: %s (%s) from %s: %s\n", command,
      s.error_code() == grpc::StatusCode::UNAVAILABLE ? "server unavailable"
                                                      : "request failed",
      absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code()))
          .c_str(),
      address.c_str(), s.error_message().c_str());
  return 1;
}

// Shadow mode: what KEDA is answered beside what the policy would decide,
// and the running totals.
void PrintShadow(const admin::v1::PolicyDecision& d) {
  const std::string fleet = d.has_fleet_replicas()
                                ? absl::StrCat(d.fleet_replicas())
                                : std::string("unknown");
  std::printf(
      "  shadow: KEDA is answered the fleet's %s, not the decision %lld\n"
      "  fleet vs decision: short %.1f replica-seconds, excess %.1f "
      "replica-seconds\n",
      fleet.c_str(), static_cast<long long>(d.replicas()),
      d.shadow_short_replica_seconds(), d.shadow_excess_replica_seconds());
}

void PrintDecision(const admin::v1::PolicyDecision& d) {
  std::printf("policy %s/%s%s\n", d.namespace_().c_str(), d.policy().c_str(),
              d.shadow() ? " (shadow)" : "");
  const auto print_signals = [&](bool proposals) {
    std::printf("  %-24s %-8s %12s %8s %9s  %s\n", "SIGNAL", "STATE", "VALUE",
                "AGE", "PROPOSAL", "NOTE");
    for (const auto& s : d.signals()) {
      std::printf(
          "  %-24s %-8s %12s %7.1fs %9s  %s\n", s.name().c_str(),
          s.state().c_str(),
          s.has_value() ? absl::StrFormat("%g", s.value()).c_str() : "-",
          s.age_seconds(), proposals ? absl::StrCat(s.proposal()).c_str() : "-",
          s.message().c_str());
    }
  };
  if (!d.has_decision()) {
    std::printf("  no decision: %s\n", d.unavailable_reason().c_str());
    if (!d.signals().empty()) print_signals(/*proposals=*/false);
    std::printf("\n");
    return;
  }
  std::printf("  replicas %lld (from %lld, max %lld), winner %s\n",
              static_cast<long long>(d.replicas()),
              static_cast<long long>(d.current()),
              static_cast<long long>(d.max_replicas()),
              d.winner().empty() ? "-" : d.winner().c_str());
  if (d.shadow()) PrintShadow(d);
  print_signals(/*proposals=*/true);
  for (const auto& r : d.reasons()) {
    std::printf("  - %s\n", r.text().c_str());
  }
  // The history the windows look at, newest last, ages relative to the
  // decision.
  if (!d.recommendations().empty()) {
    std::printf("  recommendations (age: replicas):");
    for (const auto& h : d.recommendations()) {
      std::printf(" %.0fs:%lld", d.decided_time_unix() - h.time_unix(),
                  static_cast<long long>(h.replicas()));
    }
    std::printf("\n");
  }
  if (!d.scale_events().empty()) {
    std::printf("  scale events (age: from->to):");
    for (const auto& h : d.scale_events()) {
      std::printf(" %.0fs:%lld->%lld", d.decided_time_unix() - h.time_unix(),
                  static_cast<long long>(h.from()),
                  static_cast<long long>(h.replicas()));
    }
    std::printf("\n");
  }
  std::printf("\n");
}

}  // namespace

int PushCommand(int argc, char** argv) {
  FlagSet flags("push",
                "Push a value for a signal whose source is `push: {}` (or for "
                "spec.replicas / spec.readyReplicas when those are push "
                "sources). The policy is re-evaluated at once.");
  AddConnectionFlags(flags);
  flags.Add("namespace", "", "the policy's namespace (required)");
  flags.Add("policy", "", "the policy's name (required)");
  flags.Add("signal", "", "the signal's name (required)");
  flags.Add("value", "", "the value, a number (required)");
  flags.Add("timeout-seconds", "5", "deadline of the call");
  if (int code = ParseOrExit(flags, "push", argc, argv); code >= 0) return code;
  for (const char* required : {"namespace", "policy", "signal", "value"}) {
    if (flags.Get(required).empty()) {
      return UsageError("push", absl::StrCat("--", required, " is required"));
    }
  }
  absl::StatusOr<double> value = flags.GetDouble("value");
  if (!value.ok()) return UsageError("push", value.status().message());
  absl::StatusOr<double> timeout = flags.GetDouble("timeout-seconds");
  if (!timeout.ok()) return UsageError("push", timeout.status().message());

  admin::v1::PushRequest req;
  req.set_namespace_(flags.Get("namespace"));
  req.set_policy(flags.Get("policy"));
  req.set_signal(flags.Get("signal"));
  req.set_value(*value);
  admin::v1::PushResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(*timeout)));
  if (absl::Status t = AddToken(flags, ctx); !t.ok()) {
    return UsageError("push", t.message());
  }
  const std::string address = flags.Get("address");
  absl::StatusOr<std::unique_ptr<admin::v1::Admin::Stub>> stub = Connect(flags);
  if (!stub.ok()) return UsageError("push", stub.status().message());
  grpc::Status s = (*stub)->Push(&ctx, req, &resp);
  if (!s.ok()) return RpcFailed("push", address, s);
  std::printf("pushed %s=%g to %s/%s\n", req.signal().c_str(), req.value(),
              req.namespace_().c_str(), req.policy().c_str());
  return 0;
}

int ExplainCommand(int argc, char** argv) {
  FlagSet flags("explain",
                "Show the current decision of one policy, of a namespace's "
                "policies, or of all: each signal's value, age, proposal and "
                "state, the winner, and every step that changed the number.");
  AddConnectionFlags(flags);
  flags.Add("namespace", "", "only this namespace (required with --policy)");
  flags.Add("policy", "", "only this policy");
  flags.Add("output", "text", "text, or json");
  flags.Add("timeout-seconds", "5", "deadline of the call");
  if (int code = ParseOrExit(flags, "explain", argc, argv); code >= 0)
    return code;
  const std::string output = flags.Get("output");
  if (output != "text" && output != "json") {
    return UsageError("explain", "--output must be text or json");
  }
  absl::StatusOr<double> timeout = flags.GetDouble("timeout-seconds");
  if (!timeout.ok()) return UsageError("explain", timeout.status().message());

  admin::v1::ExplainRequest req;
  req.set_namespace_(flags.Get("namespace"));
  req.set_policy(flags.Get("policy"));
  admin::v1::ExplainResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(*timeout)));
  if (absl::Status t = AddToken(flags, ctx); !t.ok()) {
    return UsageError("explain", t.message());
  }
  const std::string address = flags.Get("address");
  absl::StatusOr<std::unique_ptr<admin::v1::Admin::Stub>> stub = Connect(flags);
  if (!stub.ok()) return UsageError("explain", stub.status().message());
  grpc::Status s = (*stub)->Explain(&ctx, req, &resp);
  if (!s.ok()) return RpcFailed("explain", address, s);
  if (output == "json") {
    std::string json;
    google::protobuf::util::JsonPrintOptions opts;
    opts.add_whitespace = true;
    opts.always_print_primitive_fields = true;
    opts.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(resp, &json, opts).ok()) {
      std::fprintf(stderr, "signalscaler explain: cannot render JSON\n");
      return 1;
    }
    std::fputs(json.c_str(), stdout);
    return 0;
  }
  if (resp.decisions().empty()) std::printf("no policies\n");
  for (const auto& d : resp.decisions()) PrintDecision(d);
  return 0;
}

}  // namespace signalscaler
