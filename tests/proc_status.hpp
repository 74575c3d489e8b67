// Reading another process's /proc/PID/status in tests.
#pragma once

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
