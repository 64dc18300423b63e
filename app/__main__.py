"""`python -m app`: serve the training service. Every setting is a flag (and a PROSPECTOR_* env var)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from app.core.config import Settings
from app.main import create_app


def build_parser() -> argparse.ArgumentParser:
    """One `--flag` per Settings field; unset flags fall back to the environment, then defaults."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    for name, field in Settings.model_fields.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=argparse.SUPPRESS,
            help=f"{field.description} (env PROSPECTOR_{name.upper()})",
        )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    log_level = args.pop("log_level")
    try:
        settings = Settings(**args)
    except ValidationError as exc:
        parser.error(str(exc))
    problem = settings.bind_problem()
    if problem:
        parser.error(problem)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)


if __name__ == "__main__":
    main()
