"""The workloads of bench/mpi_workloads through mpi4py.futures (MPIPoolExecutor), for
bench/mpi_compare. Run as `mpiexec -n 3 python3 -m mpi4py.futures bench/peers/mpi4py_futures.py`
(rank 0 runs this; the others are mpi4py's workers); prints one JSON line."""

import json
import os
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def noop(x):
    return x


def twice(x):
    return 2 * x


def bytes_of(mib):
    return b"x" * (mib << 20)


def size_of(data):
    return len(data)


def pid(_):
    return os.getpid()


def cpu_seconds(process):
    """CPU time of all of a process's threads: the scheduler's exact count (schedstat, ns)."""
    tasks = f"/proc/{process}/task"
    total = 0
    for task in os.listdir(tasks):
        with open(f"{tasks}/{task}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total / 1e9


def main():
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    roundtrips = int(args.get("--roundtrips", 2000))
    burst = int(args.get("--burst", 20000))
    map_items = int(args.get("--map", 200000))
    big_mib = int(args.get("--big-mib", 64))
    idle_seconds = int(args.get("--idle-seconds", 2))
    started = time.perf_counter()
    with MPIPoolExecutor() as pool:
        pool.submit(noop, 0).result()
        startup_ms = (time.perf_counter() - started) * 1e3
        latencies = []
        for i in range(roundtrips):
            start = time.perf_counter()
            pool.submit(noop, i).result()
            latencies.append((time.perf_counter() - start) * 1e6)
        latencies.sort()
        start = time.perf_counter()
        calls = [pool.submit(noop, i) for i in range(burst)]
        total = sum(f.result() for f in calls)
        burst_seconds = time.perf_counter() - start
        start = time.perf_counter()
        doubled = list(pool.map(twice, range(map_items), chunksize=1000))
        map_seconds = time.perf_counter() - start
        big = bytes_of(big_mib)
        start = time.perf_counter()
        right_big = pool.submit(size_of, big).result() == len(big)
        big_argument_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        right_big &= len(pool.submit(bytes_of, big_mib).result()) == len(big)
        big_result_ms = (time.perf_counter() - start) * 1e3
        # Idle: its busiest worker rank's CPU while nothing is asked of it.
        workers = set(pool.map(pid, range(64)))
        before = {w: cpu_seconds(w) for w in workers}
        time.sleep(idle_seconds)
        idle_cpu = max(cpu_seconds(w) - before[w] for w in workers) / idle_seconds
        right = total == burst * (burst - 1) // 2 and doubled[-1] == 2 * (map_items - 1)
        print(json.dumps({
            "bench": "mpi4py_futures",
            "workers": 2,  # mpiexec -n 3: rank 0 submits, two ranks serve
            "roundtrip_p50_us": latencies[len(latencies) // 2],
            "roundtrip_p99_us": latencies[len(latencies) * 99 // 100],
            "burst_tasks_per_s": burst / burst_seconds,
            "map_items_per_s": map_items / map_seconds,
            "big_mib": big_mib,
            "big_argument_ms": big_argument_ms,
            "big_result_ms": big_result_ms,
            "startup_ms": startup_ms,
            "idle_agent_cpu_percent": idle_cpu * 100,
            "right": right and right_big,
        }))


if __name__ == "__main__":
    main()
