"""`python -m trainer` flags: generated from TrainConfig, file < flags precedence, bad values exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.cli import build_parser, main
from trainer.config import TrainConfig
from trainer.rundir import RunMetadata, RunPaths, RunStatus, utc_now, write_metadata
from trainer.windows import WINDOW_FIELDS

README = Path(__file__).resolve().parents[1] / "README.md"


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


def test_every_config_field_has_a_flag_with_its_description_and_default():
    help_text = " ".join(build_parser().format_help().split())
    for name, field in TrainConfig.model_fields.items():
        assert "--" + name.replace("_", "-") in help_text
        assert " ".join(field.description.split()) in help_text
        assert f"(default: {field.default})" in help_text
    assert "--ppo-num-envs" in help_text


def test_the_readme_documents_every_flag_default_and_window_field():
    section = README.read_text().split("## Trainer\n", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("`")[1]: line for line in section.splitlines() if line.startswith("| `")}
    for name, field in TrainConfig.model_fields.items():
        if name.startswith("ppo_"):
            assert f"`{name[4:].replace('_', '-')}`" in rows["--ppo-*"]
        elif field.annotation is bool:
            assert "| off |" in rows["--" + name.replace("_", "-")]
        else:
            assert f"| `{field.default}` |" in rows["--" + name.replace("_", "-")], name
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


def test_a_missing_wandb_package_is_a_clear_error_before_training(tmp_path):
    # sys.modules[name] = None is how Python itself marks a module as not importable.
    code = (
        "import sys; sys.modules['wandb'] = None; from trainer.cli import main; "
        f"sys.exit(main(['--run-root', {str(tmp_path)!r}, '--wandb-mode', 'offline']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "argument --wandb-mode" in proc.stderr and "wandb package" in proc.stderr
    assert list(tmp_path.iterdir()) == []
