"""Play sessions over HTTP with a real play worker: lifecycle, bad actions, the session cap, idle
expiry, and a trained policy taking steps. The tests with the default settings share one real
server (and its worker); the cap and expiry are tested on the app in this process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.serving import Server, wait_for
from tests.support import in_process_client
from trainer.cli import main
from trainer.env import ProspectorEnv
from trainer.env.rules import A_CASH_OUT
from trainer.evaluate import checkpoint_act


def test_a_session_plays_resets_and_closes(module_server: Server) -> None:
    with module_server.client() as client:
        started = client.post("/play", json={"seed": 7, "time_max": 500})
        assert started.status_code == 201, started.text
        view = started.json()
        sid = view["session_id"]
        assert started.headers["location"] == f"/play/{sid}"
        assert view["tick"] == 0 and not view["done"] and len(view["observation"]) == 284
        assert view["state"]["node"] == 0 and view["valid_actions"]
        steps = []
        for _ in range(5):
            action = next(a for a in view["valid_actions"] if a != A_CASH_OUT)
            view = client.post(f"/play/{sid}/step", json={"action": action}).json()
            steps.append(view)
        assert [s["action"] for s in steps] and all(s["tick"] > 0 for s in steps)
        assert steps[-1]["tick"] >= steps[0]["tick"]
        again = client.post(f"/play/{sid}/reset").json()
        assert {k: v for k, v in again.items()} == started.json()  # the same game from its seed
        ended = client.post(f"/play/{sid}/step", json={"action": A_CASH_OUT}).json()
        assert ended["done"] and ended["terminated"] and ended["action_name"] == "cash_out"
        over = client.post(f"/play/{sid}/step", json={"action": again["valid_actions"][0]})
        assert over.status_code == 409 and "reset" in over.json()["detail"]
        assert client.delete(f"/play/{sid}").status_code == 204
        gone = client.post(f"/play/{sid}/step", json={"action": 6})
    assert gone.status_code == 404 and sid in gone.json()["detail"]


def test_an_invalid_action_is_named_with_the_valid_ones(module_server: Server) -> None:
    with module_server.client() as client:
        view = client.post("/play", json={"seed": 3}).json()
        sid = view["session_id"]
        masked = next(a for a in range(69) if a not in view["valid_actions"])
        responses = {
            "masked": client.post(f"/play/{sid}/step", json={"action": masked}),
            "out of range": client.post(f"/play/{sid}/step", json={"action": 99}),
            "not an int": client.post(f"/play/{sid}/step", json={"action": "6"}),
        }
        after = client.post(f"/play/{sid}/reset").json()
    for name, response in responses.items():
        assert response.status_code == 422, name
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "action"], name
    masked_error = responses["masked"].json()["detail"][0]
    assert masked_error["valid_actions"] == view["valid_actions"] and str(masked) in masked_error["msg"]
    assert after["tick"] == 0


def test_sessions_are_capped_and_expire_when_idle(tmp_path: Path) -> None:
    """In this process (the cap and expiry are the app's), with a real play worker."""
    with in_process_client(tmp_path / "runs", play_max_sessions=2, play_idle_s=1.0) as client:
        try:
            first = client.post("/play", json={"seed": 1}).json()["session_id"]
            client.post("/play", json={"seed": 2})
            refused = client.post("/play", json={"seed": 3})
            assert refused.status_code == 429 and "PROSPECTOR_PLAY_MAX_SESSIONS" in refused.json()["detail"]
            # Requests for other sessions (here: new ones, refused until one expires) do not keep it open.
            wait_for(lambda: client.post("/play", json={"seed": 4}).status_code == 201, 30, "an idle session to expire")
            expired = client.post(f"/play/{first}/reset")
        finally:
            client.run(client.app.state.play_sessions.worker.close)
    assert expired.status_code == 404


def test_a_trained_policy_takes_the_next_steps(module_server: Server) -> None:
    runs = module_server.runs_root
    argv = [
        "--run-root", str(runs), "--no-log-to-run-dir", "--wandb-mode", "disabled", "--run-id", "p",
        "--trainer-backend", "puffer_ppo", "--num-envs", "8", "--env-time-max", "200", "--window-env-steps", "256",
        "--total-env-steps", "256", "--ppo-rollout-steps", "16", "--ppo-hidden-sizes", "16", "--eval-replays", "0",
    ]  # fmt: skip
    assert main(argv) == 0
    with module_server.client() as client:
        sid = client.post("/play", json={"seed": 11, "time_max": 200}).json()["session_id"]
        moved = client.post(f"/play/{sid}/agent", json={"run_id": "p", "window_id": 0, "steps": 4})
        missing = client.post(f"/play/{sid}/agent", json={"run_id": "p", "window_id": 9})
    assert moved.status_code == 200, moved.text
    taken = [step["action"] for step in moved.json()["steps"]]
    make_act, _, _ = checkpoint_act(runs / "p" / "checkpoints" / "ckpt_000000.pt", "argmax", 11)
    env = ProspectorEnv(num_envs=1, time_max=200, autoreset=False, observation="scouted")
    env.start_episodes(np.array([11], dtype=np.uint64))
    act, expected = make_act(1), []
    while len(expected) < len(taken):
        action = act(env)
        expected.append(int(action[0]))
        env.step(action)
    assert taken == expected and 1 <= len(taken) <= 4
    assert missing.status_code == 404 and "window 9" in missing.json()["detail"]
