"""`python -m app`: serve the training service. Every setting is a PROSPECTOR_* env var and, but for
the API and Ray tokens themselves (argv is visible to every user in `ps`), a flag."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from app.core.config import Settings
from app.main import create_app
from trainer.config import flag

log = logging.getLogger("app")


# Settings that are never flags: a secret on the command line is visible in `ps`.
ENV_ONLY = frozenset({"api_token", "ray_token"})


def build_parser() -> argparse.ArgumentParser:
    """One `--flag` per Settings field; unset flags fall back to the environment, then defaults."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__, allow_abbrev=False)
    for name, field in Settings.model_fields.items():
        if name in ENV_ONLY:
            continue
        parser.add_argument(
            flag(name),
            dest=name,
            default=argparse.SUPPRESS,
            help=f"{field.description} (env PROSPECTOR_{name.upper()})",
        )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    namespace, unknown = parser.parse_known_args(argv)
    if unknown:  # named without their values: a mistyped flag may carry a secret
        parser.error(f"unrecognized arguments: {' '.join(a for a in unknown if a.startswith('-'))} (values not shown)")
    args = vars(namespace)
    log_level = args.pop("log_level")
    try:
        settings = Settings(**args)
    except ValidationError as exc:
        parser.error(str(exc))
    problem = settings.bind_problem()
    if problem:
        parser.error(problem)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.allowed_hosts and settings.binds_every_address:
        log.warning(
            "bound to %s, but only Host headers %s are accepted: set PROSPECTOR_ALLOWED_HOSTS "
            "to the names clients use", settings.host, ", ".join(settings.trusted_hosts),
        )
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it logs every batch of changes at INFO
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)


if __name__ == "__main__":
    main()
