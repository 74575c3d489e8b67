#include "socket_trust.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "forkpool/detail/unique_fd.hpp"

namespace forkpool::detail {

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string why_directory_not_private(const std::string& directory) {
  const unique_fd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP || errno == ENOTDIR) {
      struct stat st {};
      if (::lstat(directory.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        return directory + " is a symbolic link; the socket directory must be a real directory";
      return directory + " is not a directory";
    }
    return "cannot open " + directory + ": " + std::strerror(errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return "cannot stat " + directory + ": " + std::strerror(errno);
  if (st.st_uid != ::getuid())
    return directory + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
           std::to_string(::getuid()) + "); remove it or choose another socket";
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return directory + " has mode " + mode + "; it must be 0700 (chmod 700 " + directory + ")";
  }
  return {};
}

std::string why_peer_not_trusted(int fd) {
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0)
    return std::string("cannot read the peer's credentials: ") + std::strerror(errno);
  if (peer.uid != ::getuid() && peer.uid != 0)
    return "the process listening there (pid " + std::to_string(peer.pid) + ") runs as uid " +
           std::to_string(peer.uid) + ", not as this user (uid " + std::to_string(::getuid()) +
           ") or root";
  return {};
}

}  // namespace forkpool::detail
