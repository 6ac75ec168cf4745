// Credentials files (a bearer token, a CA bundle, a Redis password) confined
// to the directory of the policy's namespace under --credentials-root.
//
// A policy names its files relative to ROOT/<namespace>/; the reloader
// checks them (scaler/server/policy_reloader.cc, through ConfineSources in
// sources/factory.h) and hands the sources ROOT/<namespace>/<file>. The
// sources read them with ReadConfinedFile, which checks again, on the file
// actually opened, that it lies inside ROOT/<namespace>/ once every symlink
// is followed: kubelet swaps a Secret volume's `..data` symlink at any time,
// so a check at load time alone is not enough.
//
//   absl::StatusOr<std::string> token = ReadConfinedFile(
//       "/etc/signalscaler/credentials/team-a/token",
//       "/etc/signalscaler/credentials", 64 << 10);
//
// Header-only: the HTTP and Redis source libraries both use it and share no
// library of their own.
#ifndef SIGNALSCALER_SOURCES_CREDENTIAL_FILE_H_
#define SIGNALSCALER_SOURCES_CREDENTIAL_FILE_H_

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace signalscaler {
namespace credential_file {

// `path` with every symlink followed; errno's text when it cannot be.
inline absl::StatusOr<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    const int err = errno;
    return absl::Status(err == ENOENT ? absl::StatusCode::kNotFound
                                      : absl::StatusCode::kFailedPrecondition,
                        std::strerror(err));
  }
  return std::string(buf);
}

// Whether the resolved `real` lies inside the resolved directory `dir`.
inline bool Inside(absl::string_view real, absl::string_view dir) {
  if (dir == "/") return absl::StartsWith(real, "/") && real.size() > 1;
  return real.size() > dir.size() + 1 && absl::StartsWith(real, dir) &&
         real[dir.size()] == '/';
}

// ROOT/<namespace> for `path` = ROOT/<namespace>/...; empty if `path` is not
// below `root` that way.
inline std::string NamespaceDir(const std::string& path,
                                const std::string& root) {
  std::string base = root;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  if (!absl::StartsWith(path, base + "/")) return "";
  const size_t start = base.size() + 1;
  const size_t slash = path.find('/', start);
  if (slash == std::string::npos || slash == start) return "";
  return path.substr(0, slash);
}

}  // namespace credential_file

// Reads at most `max_bytes` of `path`. With `root` set, `path` must be
// ROOT/<namespace>/... and the file opened must resolve (symlinks followed)
// inside ROOT/<namespace>/: else FAILED_PRECONDITION. Errors (NOT_FOUND,
// FAILED_PRECONDITION, OUT_OF_RANGE past `max_bytes`) name `path`, never the
// content, and do not start with a capital (callers prefix what it is).
inline absl::StatusOr<std::string> ReadConfinedFile(const std::string& path,
                                                    const std::string& root,
                                                    size_t max_bytes) {
  std::string dir_real;
  if (!root.empty()) {
    const std::string dir = credential_file::NamespaceDir(path, root);
    if (dir.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          path,
          " is not in a namespace's directory under the credentials "
          "root ",
          root));
    }
    absl::StatusOr<std::string> real = credential_file::RealPath(dir);
    if (!real.ok()) {
      return absl::Status(
          real.status().code(),
          absl::StrCat(path, ": ", dir, ": ", real.status().message()));
    }
    dir_real = *std::move(real);
    // The namespace's directory must itself stay under the root (not a
    // symlink to `/`, which would make every file "inside").
    absl::StatusOr<std::string> root_real = credential_file::RealPath(root);
    if (!root_real.ok() || !credential_file::Inside(dir_real, *root_real)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ", dir,
                       " resolves outside the credentials "
                       "root ",
                       root, ": refused"));
    }
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(err == ENOENT ? absl::StatusCode::kNotFound
                                      : absl::StatusCode::kFailedPrecondition,
                        absl::StrCat(path, ": ", std::strerror(err)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (!dir_real.empty()) {
    // The file actually opened, whatever its symlinks pointed at then.
    char buf[PATH_MAX];
    const std::string proc = absl::StrCat("/proc/self/fd/", fd);
    const ssize_t n = ::readlink(proc.c_str(), buf, sizeof(buf) - 1);
    if (n <= 0 ||
        !credential_file::Inside(absl::string_view(buf, n), dir_real)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " resolves outside ", dir_real,
                       "/ (symlinks followed): refused"));
    }
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": not a regular file"));
  }
  std::string out;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return absl::OutOfRangeError(
          absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
    }
    out.append(chunk, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace signalscaler

#endif  // SIGNALSCALER_SOURCES_CREDENTIAL_FILE_H_
