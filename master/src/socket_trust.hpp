// Who may be trusted at the two ends of forkpool-master's Unix socket. Shared by the client
// (library) and the daemon, so both apply the same rules:
// - the default socket's directory belongs to this user alone: owned by its uid, a real
//   directory (not a symlink), no access for group or others (as OpenSSH and tmux require of
//   their socket directories);
// - a client speaks only to a master running as its own uid, or as root (SO_PEERCRED), before
//   it sends anything.
#pragma once

#include <string>

namespace forkpool::detail {

/// Empty if `directory` is private to the calling user, else why not (one line). Checked on a
/// descriptor opened with O_NOFOLLOW, so a symlink swapped in later cannot redirect the check.
std::string why_directory_not_private(const std::string& directory);

/// Empty if the process at the other end of the connected Unix socket `fd` runs as the caller's
/// uid or as root, else why not.
std::string why_peer_not_trusted(int fd);

/// The directory part of a socket path ("." for a bare name).
std::string directory_of(const std::string& path);

}  // namespace forkpool::detail
