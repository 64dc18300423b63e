"""Run configs over HTTP: strict values and the operator's limits (422 naming the field), the
default window, wandb online, and extending a run through resume with a new total."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.serving import Server, wait_for
from tests.support import (
    LONG,
    SHORT,
    InProcessClient,
    config_flags,
    file_windows,
    in_process_client,
    train,
    without_timing,
)


def _field_named(response: httpx.Response, field: str) -> bool:
    return any(field in map(str, error["loc"]) for error in response.json()["detail"])


def _post_raw(client: httpx.Client | InProcessClient, path: str, text: str) -> httpx.Response:
    return client.post(path, content=text.encode(), headers={"content-type": "application/json"})


def _wait_status(client: httpx.Client, run_id: str, *statuses: str, timeout: float = 120) -> dict:
    return wait_for(
        lambda: (run := client.get(f"/runs/{run_id}").json())["status"] in statuses and run,
        timeout,
        f"{run_id} to be {statuses}",
    )


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"total_env_steps": true}', "total_env_steps"),
        ('{"total_env_steps": "5000"}', "total_env_steps"),
        ('{"total_env_steps": NaN}', "total_env_steps"),
        ('{"num_envs": 1e400}', "num_envs"),
        ('{"ppo_learning_rate": Infinity}', "ppo_learning_rate"),
        ('{"ppo_learning_rate": 1e300}', "ppo_learning_rate"),
        ('{"ppo_gamma": NaN}', "ppo_gamma"),
        ('{"env_time_max": 9223372036854775808}', "env_time_max"),
        ('{"num_envs": 10, "ppo_num_workers": 3}', "ppo_num_workers"),
        ('{"ppo_hidden_sizes": [64, true]}', "ppo_hidden_sizes"),
        # The default limits: resources a client must not be able to take.
        ('{"num_envs": 65536}', "num_envs"),
        ('{"ppo_hidden_sizes": [50000, 50000]}', "ppo_hidden_sizes"),
        ('{"num_envs": 4096, "ppo_num_workers": 4096}', "ppo_num_workers"),
        ('{"torch_threads": 256}', "torch_threads"),
        ('{"trainer_backend": "puffer_ppo", "num_envs": 4096, "ppo_rollout_steps": 4096}', "ppo_rollout_steps"),
        ('{"ppo_update_epochs": 500}', "ppo_update_epochs"),
        ('{"eval_episodes": 5000}', "eval_episodes"),
        ('{"total_env_steps": 10000000000000}', "total_env_steps"),
        ('{"keep_checkpoints": 0}', "keep_checkpoints"),
        ('{"wandb_mode": "online"}', "wandb_mode"),
    ],
)
def test_bad_or_too_costly_config_is_422_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    with in_process_client(tmp_path / "runs") as client:
        response = _post_raw(client, "/runs", text)
    assert response.status_code == 422, response.text
    assert _field_named(response, field), response.json()


def test_a_total_below_the_default_window_gets_one_window(module_server: Server) -> None:
    with module_server.client() as client:
        response = client.post("/runs", json={"run_id": "small", "total_env_steps": 5000, "num_envs": 8})
        assert response.status_code == 201, response.text
        run = _wait_status(client, "small", "completed", "failed")
    assert run["status"] == "completed" and run["window_env_steps"] == 5000
    windows = file_windows(module_server.runs_root, "small")
    assert [(w["env_steps_start"], w["env_steps_end"]) for w in windows] == [(0, 5000)]


def test_the_old_ppo_names_of_the_vector_settings_are_accepted(module_server: Server) -> None:
    old_names = {"ppo_vector_backend": "serial", "ppo_num_workers": 2}
    with module_server.client() as client:
        response = client.post("/runs", json={"run_id": "old", "total_env_steps": 1000, "num_envs": 4, **old_names})
        assert response.status_code == 201, response.text
        run = _wait_status(client, "old", "completed", "failed")
    assert run["status"] == "completed"
    written = json.loads((module_server.runs_root / "old" / "config.json").read_text())
    assert (written["vector_backend"], written["num_workers"]) == ("serial", 2)


def test_the_operator_sets_the_limits_and_the_trainer_gets_them(make_server) -> None:
    limits = {"max_num_envs": 8, "max_total_env_steps": 10**13}
    server = make_server(train_limits=json.dumps(limits), allow_wandb_online="true")
    with server.client() as client:
        narrower = client.post("/runs", json={**SHORT, "num_envs": 16})
        assert narrower.status_code == 422 and _field_named(narrower, "num_envs")
        # Above the default limit, within the operator's: the trainer must accept it too.
        wider = client.post("/runs", json={**LONG, "run_id": "wide", "total_env_steps": 2 * 10**12})
        assert wider.status_code == 201, wider.text
        wait_for(lambda: client.get("/runs/wide").json()["windows_emitted"] >= 1, 60, "a window of the wide run")
        # Allowed by the operator, so accepted (and left queued behind the running run).
        online = client.post("/runs", json={**SHORT, "run_id": "online", "wandb_mode": "online"})
        assert online.status_code == 201 and online.json()["status"] == "queued"
        assert client.post("/runs/online/cancel").status_code == 202
        assert client.post("/runs/wide/cancel").status_code == 202
        assert _wait_status(client, "wide", "cancelled", "failed")["status"] == "cancelled"


def test_a_completed_run_is_extended_by_resume_with_a_larger_total(module_server: Server, tmp_path: Path) -> None:
    with module_server.client() as client:
        assert client.post("/runs", json={**SHORT, "run_id": "ext"}).status_code == 201
        _wait_status(client, "ext", "completed")
        assert client.post("/runs/ext/resume").status_code == 409
        for body, field in [
            ('{"total_env_steps": 6000}', "total_env_steps"),
            ('{"total_env_steps": true}', "total_env_steps"),
            ('{"total_env_steps": 10000000000000}', "total_env_steps"),
            ('{"total_env_step": 10000}', "total_env_step"),
        ]:
            refused = _post_raw(client, "/runs/ext/resume", body)
            assert refused.status_code == 422 and _field_named(refused, field), refused.text
        resumed = client.post("/runs/ext/resume", json={"total_env_steps": 10_000})
        assert resumed.status_code == 202, resumed.text
        assert resumed.json()["target_env_steps"] == 10_000
        run = _wait_status(client, "ext", "completed", "failed")
    assert run["status"] == "completed" and run["env_steps_total"] == 10_000
    extended = file_windows(module_server.runs_root, "ext")
    assert [(w["env_steps_start"], w["env_steps_end"]) for w in extended] == [(k * 2000, (k + 1) * 2000) for k in range(5)]
    # The uninterrupted reference run, trained in this process.
    assert train(tmp_path / "reference", "--run-id", "whole", *config_flags({**SHORT, "total_env_steps": 10_000})) == 0
    assert without_timing(extended) == without_timing(file_windows(tmp_path / "reference", "whole"))
