// The inotify watch of a policies path: its directory (or a single file's
// directory), where kubelet's `..data` swap is a rename, and that
// directory's entry in its parent, so that a directory replaced (`mv dir
// dir.old; mkdir dir`) or a symlink to it swapped is watched again at once
// instead of following the old inode away. Without inotify, or while the
// directory cannot be watched, Wait() still returns every `period`.
//
//   DirWatch watch(path, absl::Seconds(5));
//   watch.Arm();
//   while (watch.Wait(stop_fd)) {  // false once stop_fd is readable
//     watch.Arm();                 // before reading: nothing goes unseen
//     Reload();
//   }
//
// Not thread-safe: one thread uses it.
#ifndef SIGNALSCALER_SCALER_SERVER_INTERNAL_DIR_WATCH_H_
#define SIGNALSCALER_SCALER_SERVER_INTERNAL_DIR_WATCH_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"

namespace signalscaler {
namespace server_internal {

class DirWatch {
 public:
  DirWatch(const std::string& path, absl::Duration period);
  ~DirWatch();
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

  // (Re-)arms the watches on the paths that now name other inodes; logs
  // when the directory cannot be watched, and when it can again.
  void Arm();

  // Blocks until a change that matters (debounced: a kubelet update is
  // several events in a few ms), or `period` after the previous Wait()
  // returned (or the first began). True: reload now; false: `stop_fd` is
  // readable (or poll failed), stop.
  bool Wait(int stop_fd);

 private:
  // One inotify watch on a path, re-armed when the path comes to name
  // another inode: inotify watches inodes, not names.
  struct PathWatch {
    std::string path;
    uint32_t mask = 0;
    int wd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    // Whether the watch was (re-)armed or dropped.
    bool Arm(int fd);
  };

  // Reads the pending events; true if one of them matters (anything in the
  // directory, the directory itself, or its entry in the parent).
  bool Drain();
  // After a relevant event: waits until 100 ms pass without another, and at
  // most 1 s.
  void Debounce();

  const absl::Duration period_;
  PathWatch dir_;
  PathWatch parent_;
  std::string dir_name_;
  bool has_parent_ = false;
  int fd_ = -1;
  bool warned_ = false;
  std::optional<absl::Time> next_periodic_;
};

}  // namespace server_internal
}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_SERVER_INTERNAL_DIR_WATCH_H_
