#include "metrics_text.hpp"

#include <cstdint>
#include <string_view>

namespace forkpool::daemon {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
  family(out, name, type, help);
  sample(out, name, "", value);
}

}  // namespace

std::string metrics_text(const pool_stats& s) {
  std::string out;
  single(out, "forkpool_workers_alive", "gauge", "Workers serving calls.", s.workers_alive);
  single(out, "forkpool_workers_retiring", "gauge",
         "Workers told to stop that finish what they hold.", s.workers_retiring);
  single(out, "forkpool_queue_depth", "gauge", "Jobs submitted and not yet finished.",
         s.queue_depth);
  single(out, "forkpool_tasks_submitted_total", "counter", "Jobs submitted.", s.submitted);
  single(out, "forkpool_tasks_completed_total", "counter", "Jobs finished with a result.",
         s.completed);
  single(out, "forkpool_tasks_failed_total", "counter", "Jobs finished with an error.", s.failed);
  single(out, "forkpool_tasks_cancelled_total", "counter", "Jobs cancelled before they started.",
         s.cancelled);
  single(out, "forkpool_task_retries_total", "counter",
         "Jobs run again after their worker died or they timed out.", s.retries);
  family(out, "forkpool_worker_restarts_total", "counter", "Workers replaced, by reason.");
  sample(out, "forkpool_worker_restarts_total", "reason=\"task_count\"", s.restarts_task_count);
  sample(out, "forkpool_worker_restarts_total", "reason=\"memory\"", s.restarts_memory);
  sample(out, "forkpool_worker_restarts_total", "reason=\"timeout\"", s.restarts_timeout);
  sample(out, "forkpool_worker_restarts_total", "reason=\"crash\"", s.restarts_crash);
  sample(out, "forkpool_worker_restarts_total", "reason=\"requested\"", s.restarts_requested);
  family(out, "forkpool_worker_rss_bytes", "gauge",
         "Private resident memory of each serving worker.");
  for (const auto& w : s.per_worker)
    sample(out, "forkpool_worker_rss_bytes", "pid=\"" + std::to_string(w.pid) + "\"", w.rss_bytes);
  return out;
}

}  // namespace forkpool::daemon
