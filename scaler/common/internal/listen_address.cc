#include "scaler/common/internal/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace signalscaler::internal {

bool SplitListen(absl::string_view listen, std::string& host,
                 std::string& port) {
  absl::string_view port_text;
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos || close + 1 >= listen.size() ||
        listen[close + 1] != ':') {
      return false;
    }
    host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos) return false;
    host = std::string(listen.substr(0, colon));
    if (host.find(':') != std::string::npos) return false;  // unbracketed v6
    port_text = listen.substr(colon + 1);
  }
  int n = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(port_text, &n) || n > 65535) {
    return false;
  }
  port = std::string(port_text);
  return true;
}

absl::StatusOr<Listening> ResolveListening(const std::string& host,
                                           const std::string& port,
                                           bool ipv6_available,
                                           const std::string& what) {
  std::string ports = port;
  std::string knock_ip = "127.0.0.1";
  if (host.find(':') != std::string::npos) {
    if (!ipv6_available) {
      return absl::UnavailableError(absl::StrCat(
          what,
          "IPv6 is not available (this CivetWeb is built without it); "
          "use an IPv4 address, e.g. 0.0.0.0:",
          port));
    }
    // Stop() cannot knock on an IPv6 port; it wakes within 2 s anyway.
    ports = absl::StrCat("[", host, "]:", port);
    knock_ip.clear();
  } else if (!host.empty()) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addrs = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &addrs);
        rc != 0) {
      return absl::UnavailableError(absl::StrCat(what, ::gai_strerror(rc)));
    }
    char ip[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET,
                &reinterpret_cast<const sockaddr_in*>(addrs->ai_addr)->sin_addr,
                ip, sizeof(ip));
    ::freeaddrinfo(addrs);
    ports = absl::StrCat(ip, ":", port);
    if (std::string(ip) != "0.0.0.0") knock_ip = ip;
  }
  return Listening{ports, knock_ip};
}

}  // namespace signalscaler::internal
