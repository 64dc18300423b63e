"""`python -m trainer` flags: generated from TrainConfig, file < flags precedence, bad values exit 2."""

import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from trainer.backends import BACKENDS
from trainer.cli import build_parser, main
from trainer.config import TrainConfig, TrainerBackend, flag
from trainer.rundir import RunMetadata, RunPaths, RunStatus, utc_now, write_metadata
from trainer.windows import WINDOW_FIELDS

pytestmark = pytest.mark.usefixtures("warm_numba")  # some of these tests train in this process

README = Path(__file__).resolve().parents[2] / "README.md"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def printed_config(capsys, *argv: str) -> dict:
    code, out, err = run_cli(capsys, *argv, "--print-config")
    assert code == 0, err
    return json.loads(out)


# Every training flag, written out by hand, with a value other than its default and the value it
# must give the config key (as --print-config shows it).
FLAGS = [
    ("--trainer-backend", ["puffer_ppo"], "trainer_backend", "puffer_ppo"),
    ("--total-env-steps", ["30000"], "total_env_steps", 30000),
    ("--window-env-steps", ["3000"], "window_env_steps", 3000),
    ("--checkpoint-every-windows", ["3"], "checkpoint_every_windows", 3),
    ("--keep-checkpoints", ["2"], "keep_checkpoints", 2),
    ("--seed", ["9"], "seed", 9),
    ("--env-time-max", ["500"], "env_time_max", 500),
    ("--env-reward", ["original"], "env_reward", "original"),
    ("--env-observation", ["spec"], "env_observation", "spec"),
    ("--env-reward-shaping", ["0.5"], "env_reward_shaping", 0.5),
    ("--env-death-penalty", ["4"], "env_death_penalty", 4.0),
    ("--num-envs", ["64"], "num_envs", 64),
    ("--torch-threads", ["2"], "torch_threads", 2),
    ("--device", ["cuda"], "device", "cuda"),
    ("--eval-episodes", ["10"], "eval_episodes", 10),
    ("--eval-mode", ["argmax"], "eval_mode", "argmax"),
    ("--eval-temperature", ["0.5"], "eval_temperature", 0.5),
    ("--eval-replays", ["3"], "eval_replays", 3),
    ("--eval-seed", ["77"], "eval_seed", 77),
    ("--milestones", ["survival_rate:0.5", "eval_net_profit_mean:100"], "milestones",
     [{"metric": "survival_rate", "threshold": 0.5}, {"metric": "eval_net_profit_mean", "threshold": 100.0}]),
    ("--wandb-mode", ["offline"], "wandb_mode", "offline"),
    ("--wandb-project", ["elsewhere"], "wandb_project", "elsewhere"),
    ("--num-workers", ["2"], "num_workers", 2),
    ("--vector-backend", ["serial"], "vector_backend", "serial"),
    ("--ppo-rollout-steps", ["32"], "ppo_rollout_steps", 32),
    ("--ppo-num-minibatches", ["4"], "ppo_num_minibatches", 4),
    ("--ppo-update-epochs", ["2"], "ppo_update_epochs", 2),
    ("--ppo-learning-rate", ["0.001"], "ppo_learning_rate", 0.001),
    ("--ppo-gamma", ["0.9"], "ppo_gamma", 0.9),
    ("--ppo-gamma-per-tick", [], "ppo_gamma_per_tick", True),
    ("--ppo-bootstrap-time-limit", [], "ppo_bootstrap_time_limit", True),
    ("--ppo-gae-lambda", ["0.8"], "ppo_gae_lambda", 0.8),
    ("--ppo-clip-coef", ["0.2"], "ppo_clip_coef", 0.2),
    ("--ppo-ent-coef", ["0.02"], "ppo_ent_coef", 0.02),
    ("--ppo-vf-coef", ["0.25"], "ppo_vf_coef", 0.25),
    ("--ppo-max-grad-norm", ["1.5"], "ppo_max_grad_norm", 1.5),
    ("--ppo-hidden-sizes", ["48", "24"], "ppo_hidden_sizes", [48, 24]),
    ("--ppo-separate-critic", [], "ppo_separate_critic", True),
    ("--ppo-precision", ["bfloat16"], "ppo_precision", "bfloat16"),
    ("--no-ppo-normalize-observations", [], "ppo_normalize_observations", False),
    ("--no-ppo-anneal-lr", [], "ppo_anneal_lr", False),
    ("--no-ppo-anneal-ent", [], "ppo_anneal_ent", False),
    ("--no-ppo-norm-adv", [], "ppo_norm_adv", False),
    ("--no-ppo-clip-vloss", [], "ppo_clip_vloss", False),
    ("--ppo-target-kl", ["0.03"], "ppo_target_kl", 0.03),
    ("--no-ppo-normalize-reward", [], "ppo_normalize_reward", False),
    ("--ppo-reward-clip", ["5"], "ppo_reward_clip", 5.0),
]
# Flags that cannot join the rows above (batch threads need the native vector backend).
FLAGS_APART = [("--batch-threads", ["2"], "batch_threads", 2)]


def test_every_config_key_has_a_flag_that_sets_it(capsys):
    rows = FLAGS + FLAGS_APART
    assert sorted(key for *_, key, _ in rows) == sorted(TrainConfig.model_fields)  # a new key needs a row
    defaults = TrainConfig().model_dump(mode="json")
    for group in (FLAGS, FLAGS_APART):
        config = printed_config(capsys, *[part for option, values, _, _ in group for part in (option, *values)])
        for option, _, key, value in group:
            assert value != defaults[key], option  # the row proves something only if it changes the key
            assert config[key] == value, option
    help_text = " ".join(build_parser().format_help().split())
    for option, _, key, _ in rows:
        field = TrainConfig.model_fields[key]
        assert " ".join(field.description.split()) in help_text and f"(default: {field.default})" in help_text, option


def test_the_readme_documents_every_flag_default_and_window_field():
    section = README.read_text().split("## Trainer\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("`")[1]: line for line in section.splitlines() if line.startswith("| `")}
    for name, field in TrainConfig.model_fields.items():
        if name.startswith("ppo_"):
            assert f"`{name[4:].replace('_', '-')}`" in rows["--ppo-*"]
        elif field.annotation is bool:
            assert "| off |" in rows[flag(name)]
        else:
            assert f"| `{field.default}` |" in rows[flag(name)], name
    documented = {name.strip(" `") for line in rows.values() for name in line.split("|")[1].split(",")}
    assert set(WINDOW_FIELDS) <= documented


def test_flags_override_a_config_file(capsys, tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text(
        'total_env_steps = 5000\nwindow_env_steps = 1000\nppo_num_envs = 8\nwandb_mode = "offline"\n'
    )
    config = printed_config(capsys, "--config", str(toml), "--window-env-steps", "500", "--keep-checkpoints", "2")
    assert (
        config
        == TrainConfig(
            total_env_steps=5000,
            window_env_steps=500,
            num_envs=8,
            wandb_mode="offline",
            keep_checkpoints=2,
        ).model_dump()
    )
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps({"seed": 7, "num_envs": 3}))
    config = printed_config(capsys, "--config", str(as_json), "--ppo-num-envs", "16")
    assert (config["seed"], config["num_envs"]) == (7, 16)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--total-env-steps", "1000", "--window-env-steps", "2000"], "--window-env-steps"),
        (["--total-env-steps", "0"], "--total-env-steps"),
        (["--window-env-steps", "-5"], "--window-env-steps"),
        (["--num-envs", "0"], "--num-envs"),
        (["--ppo-num-envs", "0"], "--num-envs"),
        (["--checkpoint-every-windows", "0"], "--checkpoint-every-windows"),
        (["--total-env-steps", "many"], "--total-env-steps"),
        (["--trainer-backend", "dqn"], "--trainer-backend"),
        (["--wandb-mode", "sometimes"], "--wandb-mode"),
        (["--run-id", "../escape"], "--run-id"),
        (["--num-envs", "10", "--ppo-num-workers", "3"], "--num-workers"),
        (["--num-envs", "10", "--num-workers", "3"], "--num-workers"),
        (["--num-envs", "2", "--batch-threads", "3"], "--batch-threads"),
        (["--vector-backend", "serial", "--batch-threads", "2"], "--batch-threads"),
        (["--ppo-learning-rate", "1e300"], "--ppo-learning-rate"),
        (["--ppo-learning-rate", "nan"], "--ppo-learning-rate"),
        (["--ppo-ent-coef", "inf"], "--ppo-ent-coef"),
        (["--env-time-max", str(2**63)], "--env-time-max"),
        (["--num-envs", "65536"], "--num-envs"),
        (["--ppo-num-workers", "65536"], "--num-workers"),
        (["--batch-threads", "2", "--torch-threads", "2"], "--batch-threads"),
        (["--torch-threads", "256"], "--torch-threads"),
        (["--ppo-hidden-sizes", "100000", "100000"], "--ppo-hidden-sizes"),
        (["--ppo-update-epochs", "1000"], "--ppo-update-epochs"),
        (["--eval-episodes", "10000"], "--eval-episodes"),
        (["--total-env-steps", str(10**13)], "--total-env-steps"),
        (["--keep-checkpoints", "0"], "--keep-checkpoints"),
        (["--trainer-backend", "puffer_ppo", "--num-envs", "4096", "--ppo-rollout-steps", "4096"], "--ppo-rollout-steps"),
        (["--limits", '{"max_num_envs": "many"}'], "--limits"),
        (["--limits", '{"max_envs": 5}'], "--limits"),
        (["--limits", '{"max_num_envs": 8}'], "--num-envs"),
    ],
)
def test_bad_values_exit_2_naming_the_flag(capsys, tmp_path, argv, named):
    code, _, err = run_cli(capsys, "--run-root", str(tmp_path), *argv)
    assert code == 2
    assert f"argument {named}" in err


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"total_env_steps": true}', "total_env_steps"),
        ('{"total_env_steps": "5000"}', "total_env_steps"),
        ('{"total_env_steps": 5000.0}', "total_env_steps"),
        ('{"total_env_steps": NaN}', "total_env_steps"),
        ('{"num_envs": 1e400}', "num_envs"),
        ('{"ppo_learning_rate": Infinity}', "ppo_learning_rate"),
        ('{"ppo_gamma": 1e400}', "ppo_gamma"),
        ('{"ppo_hidden_sizes": [64, true]}', "ppo_hidden_sizes"),
    ],
)
def test_non_finite_bool_and_string_numbers_in_a_config_file_exit_2(capsys, tmp_path, text, key):
    path = tmp_path / "c.json"
    path.write_text(text)
    code, _, err = run_cli(capsys, "--run-root", str(tmp_path), "--config", str(path))
    assert code == 2 and "argument --config" in err and key in err


def test_the_default_window_adapts_to_a_small_total_and_an_explicit_one_must_fit(capsys, tmp_path):
    assert printed_config(capsys, "--total-env-steps", "5000")["window_env_steps"] == 5000
    assert printed_config(capsys)["window_env_steps"] == 100_000
    code, _, err = run_cli(capsys, "--total-env-steps", "5000", "--window-env-steps", "100000")
    assert code == 2 and "argument --window-env-steps" in err


def test_a_small_total_alone_trains_one_window_and_checkpoints_it(capsys, tmp_path):
    argv = ["--run-root", str(tmp_path), "--run-id", "small", "--total-env-steps", "5000", "--num-envs", "16"]
    code, _, err = run_cli(capsys, *argv, "--no-log-to-run-dir")
    assert code == 0, err
    paths = RunPaths.of(tmp_path, "small")
    windows = [json.loads(line) for line in paths.windows.read_text().splitlines()]
    assert [(w["env_steps_start"], w["env_steps_end"]) for w in windows] == [(0, 5000)]
    assert [p.name for p in paths.checkpoints_dir.iterdir()] == ["ckpt_000000.pt"]


def test_limits_can_be_raised_by_the_operator(capsys):
    config = printed_config(capsys, "--limits", '{"max_num_envs": 65536}', "--num-envs", "65536")
    assert config["num_envs"] == 65536


def test_an_old_config_with_flush_partial_window_still_loads(capsys, tmp_path):
    paths = RunPaths.of(tmp_path, "old")
    paths.make_dirs()
    old = {**TrainConfig(total_env_steps=100, window_env_steps=10).model_dump(), "flush_partial_window": True}
    paths.config.write_text(json.dumps(old))
    config = printed_config(capsys, "--resume", str(paths.root), "--total-env-steps", "200")
    assert "flush_partial_window" not in config and config["total_env_steps"] == 200


def test_the_old_ppo_names_of_the_vector_settings_are_aliases(capsys, tmp_path):
    """ppo_vector_backend / ppo_num_workers: as flags, in a --config file, in an old config.json."""
    by_flags = printed_config(capsys, "--num-envs", "4", "--ppo-vector-backend", "serial", "--ppo-num-workers", "2")
    config_file = tmp_path / "c.json"
    config_file.write_text(json.dumps({"num_envs": 4, "ppo_vector_backend": "serial", "ppo_num_workers": 2}))
    by_file = printed_config(capsys, "--config", str(config_file))
    paths = RunPaths.of(tmp_path, "old")
    paths.make_dirs()
    old = TrainConfig(total_env_steps=100, window_env_steps=10, num_envs=4).model_dump()
    del old["vector_backend"], old["num_workers"]
    paths.config.write_text(json.dumps({**old, "ppo_vector_backend": "serial", "ppo_num_workers": 2}))
    resumed = printed_config(capsys, "--resume", str(paths.root))
    for config in (by_flags, by_file, resumed):
        assert (config["vector_backend"], config["num_workers"]) == ("serial", 2)
        assert "ppo_vector_backend" not in config and "ppo_num_workers" not in config


def test_a_bad_key_in_the_config_file_names_the_file(capsys, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"total_env_step": 10}))
    code, _, err = run_cli(capsys, "--config", str(path))
    assert code == 2 and "argument --config" in err and "total_env_step" in err


def test_an_unwritable_run_root_exits_2(capsys, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code, _, err = run_cli(
        capsys, "--run-root", str(blocker), "--total-env-steps", "10", "--window-env-steps", "10"
    )
    assert code == 2 and "argument --run-root" in err


def test_an_existing_run_is_refused_without_resume(capsys, tmp_path):
    paths = RunPaths.of(tmp_path, "taken")
    paths.make_dirs()
    now = utc_now()
    write_metadata(
        paths,
        RunMetadata(
            run_id="taken",
            status=RunStatus.completed,
            trainer_backend="random",
            seed=0,
            target_env_steps=10,
            window_env_steps=10,
            created_at=now,
            updated_at=now,
        ),
    )
    code, _, err = run_cli(capsys, "--run-root", str(tmp_path), "--run-id", "taken")
    assert code == 2 and "argument --run-id" in err and "--resume" in err


def test_resume_refuses_to_change_the_run_identity(capsys, tmp_path):
    paths = RunPaths.of(tmp_path, "r")
    paths.make_dirs()
    paths.config.write_text(TrainConfig(total_env_steps=100, window_env_steps=10).model_dump_json())
    code, _, err = run_cli(capsys, "--resume", str(paths.root), "--seed", "3")
    assert code == 2 and "argument --seed" in err
    config = printed_config(capsys, "--resume", str(paths.root), "--total-env-steps", "200")
    assert (config["total_env_steps"], config["window_env_steps"]) == (200, 10)


def test_a_missing_wandb_package_is_a_clear_error_before_training(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # how Python itself marks a module as not importable
    code, _, err = run_cli(capsys, "--run-root", str(tmp_path), "--wandb-mode", "offline")
    assert code == 2
    assert "argument --wandb-mode" in err and "wandb package" in err
    assert list(tmp_path.iterdir()) == []


def test_every_backend_the_config_accepts_is_implemented_and_none_more():
    """The CLI relies on it: --trainer-backend's choices are TrainerBackend, and BACKENDS serves each."""
    assert set(get_args(TrainerBackend)) == set(BACKENDS)


def test_a_bad_run_directory_is_refused_before_torch_and_the_env_are_imported(tmp_path):
    blocked = tmp_path / "occupied"
    blocked.write_text("")  # a file where the run root should be a directory
    code = (
        "import sys\n"
        "from trainer.cli import main\n"
        "try:\n"
        f"    main(['--run-root', {str(blocked)!r}, '--run-id', 'r', '--total-env-steps', '10'])\n"
        "except SystemExit as exc:\n"
        "    heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'numba', 'pufferlib'})\n"
        "    print(exc.code, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "2 []", result.stderr


def test_a_random_run_trains_checkpoints_and_resumes_without_importing_torch(tmp_path):
    """torch is over a second of a trainer's start; only the PPO backend and the worker vector
    envs (pufferlib) need it."""
    code = (
        "import sys\n"
        "from trainer.cli import main\n"
        "common = ['--total-env-steps', '400', '--window-env-steps', '100', '--num-envs', '4']\n"
        f"first = main(['--run-root', {str(tmp_path)!r}, '--run-id', 'r', '--trainer-backend', 'random', *common])\n"
        f"resumed = main(['--resume', {str(tmp_path / 'r')!r}, '--total-env-steps', '600'])\n"
        "print(first, resumed, sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'pufferlib'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "0 0 []", result.stderr
    assert len(list((tmp_path / "r" / "checkpoints").glob("ckpt_*.pt"))) > 0
