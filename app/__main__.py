"""Placeholder service entry point until the orchestration service lands: serves /health."""

import argparse

import uvicorn
from fastapi import FastAPI


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m app")
    parser.add_argument("--runs-root", default="runs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    app = FastAPI(title="Asteroid Prospector training service")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
