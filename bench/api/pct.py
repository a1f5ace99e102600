#!/usr/bin/env python3
"""Print p50 and p99 in ms of pgbench -l logs (3rd column: latency in us)."""
import sys

latencies = []
for path in sys.argv[1:]:
    with open(path) as f:
        latencies.extend(int(line.split()[2]) for line in f if line.strip())
latencies.sort()
p50 = latencies[int(0.5 * len(latencies))] / 1000
p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] / 1000
print(f"{p50:.2f} {p99:.2f}")
