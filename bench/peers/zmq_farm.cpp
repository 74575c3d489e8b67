// zmq_farm: the worker farm a C++ user writes by hand, as forkpool's peer in bench/compare.
// ZeroMQ over ipc:// (abstract sockets: no files), PUSH to forked workers and PULL back, every
// message a cereal-encoded call or reply. Measures what bench/roundtrip and bench/workloads
// measure for forkpool, on the same workloads. Prints one JSON line.
//
//   ./zmq_farm [--workers 2] [--calls 20000] [--batch 100000] [--items 200000] [--chunksize 1000]
//              [--mib 64] [--repeat 5] [--bursts 3]
//
// The burst figure is the median of --bursts bursts in one process; the first one, on memory
// the process has not touched before, is printed apart (as bench/roundtrip does).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace {

enum class kind : std::uint8_t { noop, twice_chunk, bytes };

struct call {
  std::uint64_t id = 0;
  kind what = kind::noop;
  std::int64_t number = 0;  // noop's argument, bytes' size
  std::vector<int> chunk;   // twice_chunk's items
  template <class Archive>
  void serialize(Archive& a) {
    a(id, what, number, chunk);
  }
};

struct reply {
  std::uint64_t id = 0;
  std::int64_t number = 0;
  std::vector<int> chunk;
  std::string bytes;
  template <class Archive>
  void serialize(Archive& a) {
    a(id, number, chunk, bytes);
  }
};

template <class T>
zmq::message_t encode(const T& value) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(value);
  }
  const std::string text = std::move(out).str();
  return zmq::message_t(text.data(), text.size());
}

template <class T>
T decode(const zmq::message_t& message) {
  std::istringstream in(std::string(static_cast<const char*>(message.data()), message.size()));
  cereal::BinaryInputArchive archive(in);
  T value;
  archive(value);
  return value;
}

// Runs until the master kills it.
[[noreturn]] void serve(const std::string& tasks, const std::string& results) {
  zmq::context_t context(1);
  zmq::socket_t in(context, zmq::socket_type::pull);
  zmq::socket_t out(context, zmq::socket_type::push);
  in.set(zmq::sockopt::rcvhwm, 0);
  out.set(zmq::sockopt::sndhwm, 0);
  in.connect(tasks);
  out.connect(results);
  for (;;) {
    zmq::message_t message;
    try {
      if (!in.recv(message)) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      std::fprintf(stderr, "zmq_farm worker %d: %s\n", static_cast<int>(::getpid()), e.what());
      ::_exit(1);
    }
    const call c = decode<call>(message);
    reply r;
    r.id = c.id;
    if (c.what == kind::noop) r.number = c.number;
    if (c.what == kind::twice_chunk) {
      r.chunk.resize(c.chunk.size());
      std::transform(c.chunk.begin(), c.chunk.end(), r.chunk.begin(), [](int x) { return 2 * x; });
    }
    if (c.what == kind::bytes) r.bytes.assign(static_cast<std::size_t>(c.number), 'x');
    out.send(encode(r), zmq::send_flags::none);
  }
}

using clock_type = std::chrono::steady_clock;

double micros(clock_type::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  int workers = 2, calls = 20000, batch = 100000, items = 200000, chunksize = 1000, mib = 64,
      repeat = 5, bursts = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int value = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--workers")) workers = value;
    if (!std::strcmp(argv[i], "--calls")) calls = value;
    if (!std::strcmp(argv[i], "--batch")) batch = value;
    if (!std::strcmp(argv[i], "--items")) items = value;
    if (!std::strcmp(argv[i], "--chunksize")) chunksize = value;
    if (!std::strcmp(argv[i], "--mib")) mib = value;
    if (!std::strcmp(argv[i], "--repeat")) repeat = value;
    if (!std::strcmp(argv[i], "--bursts")) bursts = std::max(1, value);
  }
  const std::string base = "ipc://@forkpool-bench-zmq-" + std::to_string(::getpid());
  const std::string tasks = base + "-tasks", results = base + "-results";

  // Workers first, before the master's context exists: a forked ZeroMQ context is unusable.
  std::vector<pid_t> children;
  for (int w = 0; w < workers; ++w) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the benchmark
      serve(tasks, results);
    }
    children.push_back(pid);
  }
  zmq::context_t context(1);
  zmq::socket_t out(context, zmq::socket_type::push);
  zmq::socket_t in(context, zmq::socket_type::pull);
  out.set(zmq::sockopt::sndhwm, 0);
  in.set(zmq::sockopt::rcvhwm, 0);
  // A reply that never comes (a worker gone, its queued calls with it) ends the run with an
  // error instead of a hang.
  in.set(zmq::sockopt::rcvtimeo, 60000);
  out.bind(tasks);
  in.bind(results);

  std::uint64_t next_id = 0;
  const auto receive = [&](zmq::message_t& message) {
    if (!in.recv(message)) {
      std::fprintf(stderr, "zmq_farm: no reply for 60 s (a worker is gone?)\n");
      for (const pid_t child : children) ::kill(child, SIGKILL);
      std::exit(1);
    }
  };
  const auto round_trip = [&](const call& c) {
    out.send(encode(c), zmq::send_flags::none);
    zmq::message_t message;
    receive(message);
    return decode<reply>(message);
  };

  // Warm-up: every worker connected and answering (PUSH spreads calls round-robin).
  for (int i = 0; i < 2000; ++i) round_trip({next_id++, kind::noop, i, {}});

  std::vector<double> latencies;
  for (int i = 0; i < calls; ++i) {
    const auto start = clock_type::now();
    if (round_trip({next_id++, kind::noop, i, {}}).number != i) return 1;
    latencies.push_back(micros(clock_type::now() - start));
  }

  // Bursts: every call sent, then every reply read (the farm's own figure, no futures).
  auto start = clock_type::now();
  std::vector<double> burst_rates;
  for (int round = 0; round < bursts; ++round) {
    start = clock_type::now();
    for (int i = 0; i < batch; ++i)
      out.send(encode(call{next_id++, kind::noop, i, {}}), zmq::send_flags::none);
    long long sum = 0;
    for (int i = 0; i < batch; ++i) {
      zmq::message_t message;
      receive(message);
      sum += decode<reply>(message).number;
    }
    burst_rates.push_back(batch / std::chrono::duration<double>(clock_type::now() - start).count());
    if (sum != static_cast<long long>(batch) * (batch - 1) / 2) return 1;
  }

  // A chunked map: chunks of ints doubled, the results put back in input order. One untimed
  // run, then the median of five, as bench/workloads map does for forkpool.
  std::vector<int> input(static_cast<std::size_t>(items));
  for (int i = 0; i < items; ++i) input[static_cast<std::size_t>(i)] = i;
  std::vector<double> map_rates;
  for (int run = 0; run < 6; ++run) {
    start = clock_type::now();
    const std::uint64_t first_chunk = next_id;
    for (int begin = 0; begin < items; begin += chunksize) {
      call c{next_id++, kind::twice_chunk, 0, {}};
      c.chunk.assign(input.begin() + begin, input.begin() + std::min(items, begin + chunksize));
      out.send(encode(c), zmq::send_flags::none);
    }
    std::vector<int> output(input.size());
    for (std::uint64_t n = first_chunk; n < next_id; ++n) {
      zmq::message_t message;
      receive(message);
      const reply r = decode<reply>(message);
      std::copy(r.chunk.begin(), r.chunk.end(),
                output.begin() + static_cast<long>((r.id - first_chunk) *
                                                   static_cast<std::uint64_t>(chunksize)));
    }
    if (run > 0)
      map_rates.push_back(items / std::chrono::duration<double>(clock_type::now() - start).count());
    for (int i = 0; i < items; ++i)
      if (output[static_cast<std::size_t>(i)] != 2 * i) return 1;
  }
  const double map_items_per_s = percentile(map_rates, 0.5);

  // A large result, decoded into a std::string as a caller would use it.
  std::vector<double> result_ms;
  const std::int64_t size = static_cast<std::int64_t>(mib) << 20;
  for (int r = 0; r < repeat; ++r) {
    start = clock_type::now();
    const reply big = round_trip({next_id++, kind::bytes, size, {}});
    result_ms.push_back(micros(clock_type::now() - start) / 1000);
    if (static_cast<std::int64_t>(big.bytes.size()) != size) return 1;
  }

  // The workers have nothing left to say: end them. (A stop message per worker is not enough:
  // PUSH can queue the second stop on the pipe of a worker that already left, and the other
  // worker then waits for it forever.)
  for (const pid_t pid : children) ::kill(pid, SIGKILL);
  for (const pid_t pid : children) ::waitpid(pid, nullptr, 0);
  std::printf(
      "{\"bench\":\"zmq_farm\",\"zmq\":\"%d.%d.%d\",\"workers\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,"
      "\"batch\":%d,\"bursts\":%d,\"batch_tasks_per_s\":%.0f,\"first_batch_tasks_per_s\":%.0f,"
      "\"map_items\":%d,\"chunksize\":%d,\"map_items_per_s\":%.0f,"
      "\"result_mib\":%d,\"result_ms\":%.1f}\n",
      ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH, workers, percentile(latencies, 0.5),
      percentile(latencies, 0.99), batch, bursts, percentile(burst_rates, 0.5), burst_rates.front(),
      items, chunksize, map_items_per_s, mib, percentile(result_ms, 0.5));
  return 0;
}
