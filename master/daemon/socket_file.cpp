#include "socket_file.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "socket_trust.hpp"

namespace forkpool::daemon {
namespace {

bool created_directory = false;

bool someone_listens(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return live;
}

}  // namespace

using detail::directory_of;

void prepare_socket_path(const std::string& path, bool private_directory) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path))
    throw std::runtime_error("socket path too long: " + path);
  const std::string directory = directory_of(path);
  struct stat st {};
  // lstat: a symlink named like the directory is not followed (it fails the checks below).
  if (::lstat(directory.c_str(), &st) != 0) {
    if (::mkdir(directory.c_str(), 0700) != 0)
      throw std::runtime_error("cannot create " + directory + ": " + std::strerror(errno));
    created_directory = true;
  } else if (!private_directory && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
    throw std::runtime_error(directory + " is not a directory");
  }
  if (private_directory) {
    if (const std::string why = detail::why_directory_not_private(directory); !why.empty())
      throw std::runtime_error(why);
  }
  if (::lstat(path.c_str(), &st) != 0) return;  // nothing there
  if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(path + " exists and is not a socket");
  if (someone_listens(path))
    throw std::runtime_error("a forkpool-master is already listening on " + path);
  ::unlink(path.c_str());  // stale: left by a master that did not exit cleanly
}

void restrict_socket(const std::string& path) { ::chmod(path.c_str(), 0600); }

void remove_socket(const std::string& path) {
  ::unlink(path.c_str());
  if (created_directory) ::rmdir(directory_of(path).c_str());
}

}  // namespace forkpool::daemon
