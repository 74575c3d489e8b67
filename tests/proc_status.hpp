// Reading /proc in tests: another process's status, this process's descriptors.
#pragma once

#include <dirent.h>

#include <cstddef>
#include <fstream>
#include <string>

/// The number after `name` ("PPid:", "VmRSS:" in kB) in /proc/PID/status, or -1.
inline long long status_field(int pid, const std::string& name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long long value;
  while (status >> key) {
    if (key == name && status >> value) return value;
    status.ignore(4096, '\n');
  }
  return -1;
}

/// How many descriptors this process has open.
inline std::size_t open_descriptors() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n - 1;  // the directory's own descriptor
}
