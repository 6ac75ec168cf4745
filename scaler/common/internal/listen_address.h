// The HOST:PORT of HttpServer::Start() into what CivetWeb listens on.
#ifndef SIGNALSCALER_SCALER_COMMON_INTERNAL_LISTEN_ADDRESS_H_
#define SIGNALSCALER_SCALER_COMMON_INTERNAL_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signalscaler::internal {

// Splits "HOST:PORT" or "[IPV6]:PORT" (HOST may be empty; PORT 0 to 65535,
// digits only); false when `listen` is neither.
bool SplitListen(absl::string_view listen, std::string& host,
                 std::string& port);

// CivetWeb's listening_ports for `host` and `port` (of SplitListen): "IP:PORT"
// (a name resolved to its first IPv4 address), "[IPV6]:PORT", or "PORT" for
// every IPv4 address; and the address Stop() knocks on to wake CivetWeb
// (empty: none, for IPv6). UNAVAILABLE, its message starting with `what`,
// when the name does not resolve or IPv6 is asked for but not available.
struct Listening {
  std::string ports;
  std::string knock_ip;
};
absl::StatusOr<Listening> ResolveListening(const std::string& host,
                                           const std::string& port,
                                           bool ipv6_available,
                                           const std::string& what);

}  // namespace signalscaler::internal

#endif  // SIGNALSCALER_SCALER_COMMON_INTERNAL_LISTEN_ADDRESS_H_
