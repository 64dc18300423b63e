"""Run every benchmark and print its figures. Each part of the project adds its function here."""

from bench.env import bench_env
from bench.pipeline import bench_pipeline
from bench.service import bench_service

BENCHMARKS = [bench_env, bench_pipeline, bench_service]


def main() -> None:
    for benchmark in BENCHMARKS:
        benchmark()


if __name__ == "__main__":
    main()
