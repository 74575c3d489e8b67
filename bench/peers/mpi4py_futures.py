"""The workloads of bench/mpi_workloads through mpi4py.futures (MPIPoolExecutor), for
bench/mpi_compare. Run as `mpiexec -n 3 python3 -m mpi4py.futures bench/peers/mpi4py_futures.py`
(rank 0 runs this; the others are mpi4py's workers); prints one JSON line."""

import json
import sys
import time

from mpi4py.futures import MPIPoolExecutor


def noop(x):
    return x


def twice(x):
    return 2 * x


def main():
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    roundtrips = int(args.get("--roundtrips", 2000))
    burst = int(args.get("--burst", 20000))
    map_items = int(args.get("--map", 200000))
    with MPIPoolExecutor() as pool:
        pool.submit(noop, 0).result()
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
        right = total == burst * (burst - 1) // 2 and doubled[-1] == 2 * (map_items - 1)
        print(json.dumps({
            "bench": "mpi4py_futures",
            "workers": 2,  # mpiexec -n 3: rank 0 submits, two ranks serve
            "roundtrip_p50_us": latencies[len(latencies) // 2],
            "roundtrip_p99_us": latencies[len(latencies) * 99 // 100],
            "burst_tasks_per_s": burst / burst_seconds,
            "map_items_per_s": map_items / map_seconds,
            "right": right,
        }))


if __name__ == "__main__":
    main()
