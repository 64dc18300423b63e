"""Run the benchmarks and print their figures: every part, or the parts named on the command
line (`python -m bench env peers`, `make bench BENCH="env peers"`). Each part of the project
adds its function to BENCHMARKS."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench.dashboard import bench_dashboard
from bench.env import bench_env
from bench.peers import bench_peers
from bench.pipeline import bench_pipeline
from bench.ppo import bench_ppo_learning, bench_ppo_throughput
from bench.replays import bench_replays
from bench.service import bench_service

BENCHMARKS: dict[str, Callable[[], None]] = {
    "env": bench_env,
    "pipeline": bench_pipeline,
    "service": bench_service,
    "replays": bench_replays,
    "dashboard": bench_dashboard,
    "ppo": bench_ppo_throughput,
    "peers": bench_peers,
    "learning": bench_ppo_learning,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Run the benchmarks (all, or the parts named) and print their figures."
    )
    parser.add_argument(
        "parts", nargs="*", metavar="PART", help=f"parts to run, in this order (default: all): {', '.join(BENCHMARKS)}"
    )
    parts = parser.parse_args(argv).parts
    unknown = [part for part in parts if part not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark part {', '.join(map(repr, unknown))}; choose from {', '.join(BENCHMARKS)}")
    for part in parts or BENCHMARKS:
        if part == "learning":  # opt-in (hours of CPU at three seeds): runs when named
            bench_ppo_learning(requested=bool(parts))
        else:
            BENCHMARKS[part]()


if __name__ == "__main__":
    main()
