// The master's socket file: a private place for it, and what to do with one already there.
#pragma once

#include <string>

namespace forkpool::daemon {

/// Makes the socket's directory if missing (mode 0700), and clears the way for a new socket: a
/// stale one (no master answers) is removed; a live one is an error, as is a path that is not a
/// socket. With `private_directory` (the default socket, in shared ground such as /tmp), the
/// directory must also be owned by this user, not a symlink, and mode 0700. Throws
/// std::runtime_error with a one-line message.
void prepare_socket_path(const std::string& path, bool private_directory);

/// Restricts the socket to its owner (0600) once bound.
void restrict_socket(const std::string& path);

/// Removes the socket, and its directory if this master created it and it is now empty.
void remove_socket(const std::string& path);

}  // namespace forkpool::daemon
