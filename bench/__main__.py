"""Run every benchmark and print its figures. Each part of the project adds its function here."""

from bench.dashboard import bench_dashboard
from bench.env import bench_env
from bench.peers import bench_peers
from bench.pipeline import bench_pipeline
from bench.ppo import bench_ppo_learning, bench_ppo_throughput
from bench.replays import bench_replays
from bench.service import bench_service

BENCHMARKS = [
    bench_env,
    bench_pipeline,
    bench_service,
    bench_replays,
    bench_dashboard,
    bench_ppo_throughput,
    bench_peers,
    bench_ppo_learning,
]


def main() -> None:
    for benchmark in BENCHMARKS:
        benchmark()


if __name__ == "__main__":
    main()
