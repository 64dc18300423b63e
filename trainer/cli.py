"""`python -m trainer` (console script `prospector-train`): the trainer's command line.

The training flags are generated from TrainConfig's fields (`total_env_steps` becomes
`--total-env-steps`, with the field's description as help), so the CLI, `config.json` and the
service's request body cannot drift. Precedence: field defaults < `--config FILE` < flags.
The config must fit the operator's resource limits (`--limits`, default TrainLimits()).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args, get_origin

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from trainer.config import TrainConfig, TrainLimits, flag, load_config_file, saved_config
from trainer.logs import LOG_MAX_BYTES, MIN_LOG_MAX_BYTES, trainer_logging
from trainer.rundir import RunLock, RunPaths, RunStatus, new_run_id, read_metadata, validate_run_id

# Fields a resumed run may change; the others must match the run's config.json.
RESUMABLE_FIELDS = frozenset(
    {
        "total_env_steps",
        "checkpoint_every_windows",
        "keep_checkpoints",
        "torch_threads",
        "wandb_mode",
        "wandb_project",
    }
)
# Metadata statuses of a run directory prepared by a launcher, that a new trainer may take over.
UNSTARTED = (RunStatus.queued, RunStatus.starting)


def add_field_argument(group: argparse._ArgumentGroup, name: str, field: FieldInfo) -> None:
    """Add the flag of one TrainConfig field (plus its aliases). Unset flags stay out of the
    namespace, so a `--config` file's value is only overridden by a flag actually given."""
    names = [name]
    if isinstance(field.validation_alias, AliasChoices):
        names += [a for a in field.validation_alias.choices if isinstance(a, str) and a != name]
    kwargs: dict[str, Any] = {
        "dest": name,
        "default": argparse.SUPPRESS,
        "help": f"{field.description} (default: {field.default})".replace("%", "%%"),
    }
    if field.annotation is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif get_origin(field.annotation) is Literal:
        kwargs["choices"] = get_args(field.annotation)
    elif get_origin(field.annotation) is list:
        (item,) = get_args(field.annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):  # given as text (e.g. metric:threshold)
            kwargs["type"], kwargs["nargs"] = str, "*"
        else:
            kwargs["type"], kwargs["nargs"] = item, "+"
        kwargs["metavar"] = name.rsplit("_", 1)[-1].upper()
    else:
        kwargs["type"] = field.annotation
        kwargs["metavar"] = name.rsplit("_", 1)[-1].upper()
    group.add_argument(*map(flag, names), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Train Asteroid Prospector agents into a run directory that can be followed live.",
    )
    run = parser.add_argument_group("run directory")
    run.add_argument(
        "--run-root",
        type=Path,
        default=Path("runs"),
        help="Directory holding the run directories (default: runs).",
    )
    run.add_argument(
        "--run-id", help="Name of the new run's directory (default: <UTC %%Y%%m%%dT%%H%%M%%SZ>-<6 hex>)."
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="Continue the run in RUN_DIR from its newest checkpoint, with its config.json; only "
        + ", ".join(sorted(map(flag, RESUMABLE_FIELDS)))
        + " may change.",
    )
    run.add_argument(
        "--config", type=Path, metavar="FILE", help="JSON or TOML file of config keys; flags override it."
    )
    run.add_argument(
        "--print-config", action="store_true", help="Print the resolved config as JSON and exit."
    )
    run.add_argument(
        "--limits",
        metavar="JSON",
        help="The operator's resource limits on the config: a JSON object of TrainLimits keys, the "
        "rest default (%s)." % ", ".join(f"{k} {v}" for k, v in TrainLimits().model_dump().items()),
    )
    run.add_argument(
        "--log-to-run-dir",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Tee the log into <run dir>/logs/trainer.log; skipped when stdout is already that file "
        "(default: on).",
    )
    run.add_argument(
        "--log-max-bytes",
        type=int,
        default=LOG_MAX_BYTES,
        metavar="BYTES",
        help="Keep logs/trainer.log and trainer.log.1 under BYTES together: the log moves to .1 at half "
        f"of it (default: {LOG_MAX_BYTES}; at least {MIN_LOG_MAX_BYTES}).",
    )
    config = parser.add_argument_group(
        "training config (TrainConfig fields; also the keys of a --config file)"
    )
    for name, field in TrainConfig.model_fields.items():
        add_field_argument(config, name, field)
    return parser


def parse_limits(parser: argparse.ArgumentParser, text: str | None) -> TrainLimits:
    """The `--limits` JSON as TrainLimits (the defaults when not given); exit 2 if it is bad."""
    if text is None:
        return TrainLimits()
    try:
        return TrainLimits.model_validate_json(text)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"]))
        fail(parser, "--limits", f"{where + ': ' if where else ''}{error['msg']}")


def resolve_config(
    parser: argparse.ArgumentParser,
    base: dict[str, Any],
    base_source: str,
    given: dict[str, Any],
    limits: TrainLimits,
) -> TrainConfig:
    """Validate `base` (a file's keys) overridden by the flags `given`, within `limits`; a bad
    value exits 2 naming its flag (or `base_source` when the value came from the file)."""
    try:
        return TrainConfig.model_validate({**base, **given}, context={"limits": limits})
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:
            parser.error(error["msg"])
        key = str(error["loc"][0])
        message = f"{error['msg']} (got {error['input']!r})"
        if key in base and key not in given:
            fail(parser, base_source, f"{key}: {message}")
        fail(parser, flag(key), message)


def fail(parser: argparse.ArgumentParser, where: str, message: str) -> NoReturn:
    """Exit 2 with argparse's usage line and `argument <where>: <message>`."""
    parser.error(f"argument {where}: {message}")


def new_run(
    parser: argparse.ArgumentParser, args: argparse.Namespace, given: dict[str, Any], limits: TrainLimits
) -> tuple[TrainConfig, RunPaths]:
    """The config and run directory of a new run (a directory a launcher prepared is accepted)."""
    base: dict[str, Any] = {}
    if args.config is not None:
        try:
            base = load_config_file(args.config)
        except (OSError, ValueError) as exc:
            fail(parser, "--config", str(exc))
    config = resolve_config(parser, base, f"--config {args.config}", given, limits)
    run_id = args.run_id or new_run_id()
    try:
        paths = RunPaths(args.run_root / validate_run_id(run_id))
    except ValueError as exc:
        fail(parser, "--run-id", str(exc))
    if paths.metadata.exists() and not _unstarted(paths):
        fail(parser, "--run-id", f"{paths.root} already holds a run; continue it with --resume {paths.root}")
    return config, paths


def _unstarted(paths: RunPaths) -> bool:
    try:
        return read_metadata(paths).status in UNSTARTED
    except ValueError:  # unreadable metadata: not ours to take over
        return False


def resumed_run(
    parser: argparse.ArgumentParser, args: argparse.Namespace, given: dict[str, Any], limits: TrainLimits
) -> tuple[TrainConfig, RunPaths]:
    """The config (the run's config.json plus the flags it allows) and directory of `--resume`."""
    if args.run_id is not None or args.config is not None:
        fail(parser, "--resume", "not allowed with --run-id or --config (the run's config.json is used)")
    paths = RunPaths(args.resume)
    try:
        validate_run_id(paths.run_id)
        saved = saved_config(json.loads(paths.config.read_text()))
    except (OSError, ValueError, TypeError) as exc:  # TypeError: a config.json that is not an object
        fail(parser, "--resume", f"{args.resume} is not a run directory: {exc}")
    for key, value in given.items():
        if key not in RESUMABLE_FIELDS and saved.get(key) != value:
            fail(parser, flag(key), f"cannot change when resuming (the run has {saved.get(key)!r})")
    config = resolve_config(parser, saved, "--resume", given, limits)
    trained = _env_steps_trained(paths)
    if config.total_env_steps < trained:
        fail(
            parser,
            "--total-env-steps",
            f"{config.total_env_steps} is less than the {trained} env steps the run has already trained",
        )
    return config, paths


def _env_steps_trained(paths: RunPaths) -> int:
    try:
        return read_metadata(paths).env_steps_total
    except (OSError, ValueError):  # no or unreadable metadata: the checkpoints will tell
        return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, check them and the run directory (exit 2 on a bad one), then train."""
    parser = build_parser()
    args = parser.parse_args(argv)
    given = {name: getattr(args, name) for name in TrainConfig.model_fields if hasattr(args, name)}
    limits = parse_limits(parser, args.limits)
    if args.log_max_bytes < MIN_LOG_MAX_BYTES:
        fail(parser, "--log-max-bytes", f"must be at least {MIN_LOG_MAX_BYTES} (got {args.log_max_bytes})")
    start = resumed_run if args.resume else new_run
    config, paths = start(parser, args, given, limits)
    if args.print_config:
        print(config.model_dump_json(indent=2))
        return 0

    if config.wandb_mode != "disabled":
        try:
            importlib.import_module("wandb")
        except ImportError:
            fail(
                parser,
                "--wandb-mode",
                f"{config.wandb_mode!r} needs the wandb package; install it or use --wandb-mode disabled",
            )
    try:
        paths.make_dirs()
        if not os.access(paths.root, os.W_OK):
            raise PermissionError(f"{paths.root} is not writable")
    except OSError as exc:
        fail(
            parser,
            "--resume" if args.resume else "--run-root",
            f"cannot write the run directory {paths.root}: {exc}",
        )
    lock = RunLock(paths)
    if not lock.acquire():
        fail(
            parser,
            "--resume" if args.resume else "--run-id",
            f"run {paths.run_id} is live: another trainer holds {paths.lock}",
        )

    from trainer.train import train  # the env (numba), and torch for PPO: only once there is something to train

    try:
        with trainer_logging(paths.log if args.log_to_run_dir else None, args.log_max_bytes):
            return train(config, paths, resume=args.resume is not None)
    finally:
        lock.release()
