"""`python -m trainer.warmup` fills numba's on-disk cache with the kernels a run uses."""

import subprocess
import sys


def test_warmup_fills_a_fresh_cache_with_the_kernels_a_run_uses(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "trainer.warmup"], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("numba kernels ready in ")
    cached = {path.name.split("-")[0] for path in tmp_path.rglob("*.nbi")}
    wanted = {"dynamics.step_batch", "dynamics.reset_batch", "dynamics.start_seeded_episodes"}
    assert wanted | {"baselines.sample_valid_actions", "baselines.prospector_actions"} <= cached
