"""The Dockerfiles in infra/: hadolint finds no error, the pins match the project's, the images run
as an unprivileged user and the service's image checks /health. (Linted here, never built.)"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.infra import dockerfile

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "infra").glob("**/Dockerfile*"))
IMAGE = REPO / "infra" / "Dockerfile"


def test_there_are_dockerfiles_to_check() -> None:
    assert IMAGE in DOCKERFILES


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint_finds_no_error(path: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run(
        [str(hadolint), "--failure-threshold", "error", "--no-color", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_torch_and_pufferlib_core_are_pinned_as_in_the_project() -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch_pin,) = [d for d in dependencies if re.match(r"torch\s*==", d)]
    (makefile_pin,) = re.findall(r"^PUFFERLIB_CORE\s*:=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    args = dockerfile.global_args(IMAGE)
    assert f"torch=={args['TORCH_VERSION']}" == torch_pin.replace(" ", "")
    assert args["PUFFERLIB_CORE"] == makefile_pin
    assert args["TORCH_INDEX_URL"].endswith("/cpu")
    runs = " ".join(i.arguments for i in dockerfile.instructions(IMAGE) if i.keyword == "RUN")
    assert '--no-deps "${PUFFERLIB_CORE}"' in runs
    assert '"torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"' in runs


@pytest.mark.parametrize("target", ["trainer", "api", "ray"])
def test_every_image_runs_as_an_unprivileged_user(target: str) -> None:
    chain = dockerfile.stage_chain(IMAGE, target)
    assert chain and chain[-1].name == target
    user = dockerfile.effective(chain, "USER")
    assert user is not None, f"{target} runs as root"
    assert user.arguments.split(":")[0] not in ("root", "0")


def test_the_service_image_checks_health() -> None:
    check = dockerfile.effective(dockerfile.stage_chain(IMAGE, "api"), "HEALTHCHECK")
    assert check is not None
    assert re.search(r"http://127\.0\.0\.1:8000/health\b", check.arguments)
    cmd = dockerfile.effective(dockerfile.stage_chain(IMAGE, "api"), "CMD")
    assert cmd is not None and dockerfile.exec_form(cmd.arguments)[:3] == ["python", "-m", "app"]
