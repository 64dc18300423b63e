"""Run every benchmark and print its figures. Each part of the project adds its function here."""

from bench.env import bench_env
from bench.pipeline import bench_pipeline

BENCHMARKS = [bench_env, bench_pipeline]


def main() -> None:
    for benchmark in BENCHMARKS:
        benchmark()


if __name__ == "__main__":
    main()
