"""The W&B adapter: offline with the real package and no network; online with wandb.init faked."""

from pathlib import Path

import pytest

from trainer.cli import main
from trainer.rundir import RunPaths, RunStatus, read_metadata

pytestmark = pytest.mark.usefixtures("warm_numba")  # these tests step the env in this process

REPO = Path(__file__).resolve().parents[2]
SMALL = [
    "--num-envs",
    "16",
    "--env-time-max",
    "300",
    "--total-env-steps",
    "1000",
    "--window-env-steps",
    "500",
    "--checkpoint-every-windows",
    "1",
]


@pytest.fixture
def wandb_dirs(tmp_path, monkeypatch) -> dict[str, str]:
    """Keep every W&B file (config, cache, staged artifacts) inside tmp_path."""
    dirs = {
        name: str(tmp_path / name.lower())
        for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")
    }
    for name, value in dirs.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WANDB_DIR", raising=False)  # the adapter passes dir=<run dir> itself
    monkeypatch.setenv("WANDB_SILENT", "true")
    return dirs


def test_offline_mode_writes_its_run_under_the_run_dir(tmp_path, wandb_dirs, monkeypatch):
    had_repo_wandb = (REPO / "wandb").exists()
    monkeypatch.chdir(tmp_path)
    argv = ["--run-root", str(tmp_path / "runs"), "--run-id", "off", *SMALL, "--wandb-mode", "offline",
            "--wandb-project", "asteroid-prospector"]
    assert main(argv) == 0
    paths = RunPaths.of(tmp_path / "runs", "off")
    meta = read_metadata(paths)
    assert meta.status == RunStatus.completed
    assert meta.wandb_run_id == "off" and meta.wandb_run_url is None
    (offline_run,) = (paths.root / "wandb").glob("offline-run-*-off")
    assert (offline_run / "run-off.wandb").stat().st_size > 0
    assert not (tmp_path / "wandb").exists()
    assert (REPO / "wandb").exists() == had_repo_wandb


class FakeRun:
    """Stands in for wandb's Run: records what the adapter sends to the network layer."""

    def __init__(self, **init_kwargs):
        self.init_kwargs = init_kwargs
        self.id = init_kwargs["id"]
        self.offline = False
        self.url = f"https://wandb.example/{init_kwargs['project']}/runs/{self.id}"
        self.logged: list[tuple[dict, int]] = []
        self.artifacts: list[tuple[object, list[str]]] = []
        self.summary: dict = {}
        self.exit_code: int | None = None

    def log(self, data, step):
        self.logged.append((data, step))

    def log_artifact(self, artifact, aliases):
        self.artifacts.append((artifact, aliases))

    def finish(self, exit_code):
        self.exit_code = exit_code


@pytest.fixture
def fake_online(monkeypatch, wandb_dirs) -> list[FakeRun]:
    import wandb

    runs: list[FakeRun] = []

    def init(**kwargs):
        runs.append(FakeRun(**kwargs))
        return runs[-1]

    monkeypatch.setattr(wandb, "init", init)
    return runs


def test_online_mode_logs_windows_checkpoints_and_the_summary(tmp_path, fake_online):
    assert main(["--run-root", str(tmp_path), "--run-id", "on", *SMALL, "--wandb-mode", "online"]) == 0
    (run,) = fake_online
    paths = RunPaths.of(tmp_path, "on")
    assert run.init_kwargs["project"] == "asteroid-prospector"
    assert (run.init_kwargs["id"], run.init_kwargs["name"], run.init_kwargs["resume"]) == (
        "on",
        "on",
        "allow",
    )
    assert Path(run.init_kwargs["dir"]) == paths.root
    assert run.init_kwargs["config"]["total_env_steps"] == 1000
    assert [(data["window_id"], step) for data, step in run.logged] == [(0, 500), (1, 1000)]
    assert "time" not in run.logged[0][0]
    assert [aliases for _, aliases in run.artifacts] == [["latest", "window-0"], ["latest", "window-1"]]
    assert {artifact.type for artifact, _ in run.artifacts} == {"model"}
    assert run.summary["status"] == "completed" and run.summary["env_steps_total"] == 1000
    assert run.exit_code == 0
    meta = read_metadata(paths)
    assert (meta.wandb_run_id, meta.wandb_run_url) == ("on", run.url)


def test_a_failed_run_finishes_its_wandb_run_as_failed(tmp_path, fake_online):
    assert main(["--run-root", str(tmp_path), "--run-id", "f", *SMALL, "--wandb-mode", "online"]) == 0
    RunPaths.of(tmp_path, "f").checkpoint(1).write_bytes(b"garbage")
    assert main(["--resume", str(tmp_path / "f"), "--total-env-steps", "2000"]) == 1
    assert fake_online[-1].exit_code == 1
    assert fake_online[-1].summary["status"] == "failed"
