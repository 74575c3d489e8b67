#include "forkpool/errors.hpp"

#include <sys/wait.h>

#include <cstring>

namespace forkpool {
namespace {

std::string describe_exit(int pid, int status) {
  std::string text = "worker " + std::to_string(pid);
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigdescr_np(sig);
    text += " was killed by signal " + std::to_string(sig);
    if (name != nullptr) text += std::string(" (") + name + ")";
  } else if (WIFEXITED(status)) {
    text += " exited with status " + std::to_string(WEXITSTATUS(status));
  } else {
    text += " stopped unexpectedly";
  }
  return text + " while running the task";
}

}  // namespace

remote_error::remote_error(std::string type_name, const std::string& message)
    : error(type_name + ": " + message), type_name_(std::move(type_name)), message_(message) {}

worker_died::worker_died(int pid, int wait_status)
    : error(describe_exit(pid, wait_status)),
      pid_(pid),
      signal_(WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0),
      exit_code_(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1) {}

worker_died::worker_died(const std::string& message, int pid, int signal, int exit_code)
    : error(message), pid_(pid), signal_(signal), exit_code_(exit_code) {}

cancelled_error::cancelled_error() : error("the task was cancelled") {}
cancelled_error::cancelled_error(const std::string& why) : error(why) {}
pool_shut_down::pool_shut_down() : error("the pool has been shut down") {}
timeout_error::timeout_error() : error("timed out waiting for the result") {}

}  // namespace forkpool
