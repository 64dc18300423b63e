"""How `make test` shares the suite between its two xdist workers (`-n 2 --dist loadfile
--no-loadscope-reorder`): by module, so that a module's fixtures (a shared server, the Ray head)
start once, except that the dashboard's modules go together (their browser and server are per
package); the longest units first, so that both workers finish together, except that the units
needing no numba kernels come second: the first worker's first unit waits for the session's one
compile of the kernels (tests.numba_cache) while the second worker runs them."""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

DASHBOARD = "tests/dashboard/"

# Units that neither run the env's kernels nor start trainers, longest first.
WITHOUT_KERNELS = (
    "tests/app/test_ray_jobs.py",
    "tests/app/test_sse_disconnects.py",
    "tests/infra/test_compose.py",
    "tests/app/test_api.py",
    "tests/app/test_input_edges.py",
    "tests/app/test_run_listing.py",
    "tests/app/test_supervisor.py",
    "tests/app/test_follower.py",
    "tests/app/test_store.py",
    "tests/app/test_settings.py",
    "tests/app/test_trainer_log.py",
    "tests/app/test_windowlog.py",
    "tests/infra/test_images.py",
    "tests/trainer/test_rundir.py",
    "tests/trainer/test_windows.py",
)

# The order units are handed out in: the longest, then those without kernels, then the next
# longest, longest first; the others follow in collection order.
ORDER = (
    DASHBOARD,
    *WITHOUT_KERNELS,
    "tests/trainer/test_warmup.py",  # a compile where the checkout's numba cache was warm already
    "tests/app/test_restart.py",
    "tests/app/test_runs.py",
    "tests/app/test_ray_launcher.py",
    "tests/app/test_run_config.py",
    "tests/app/test_ray_integration.py",
    "tests/trainer/test_ppo.py",
    "tests/trainer/test_replays.py",
    "tests/trainer/test_trainer_run.py",
    "tests/app/test_play.py",
    "tests/env/test_worlds.py",
)


def unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or the dashboard package."""
    module = nodeid.split("::", 1)[0]
    return DASHBOARD if module.startswith(DASHBOARD) else module


def rank(nodeid: str) -> int:
    """Where the test's unit comes in the order the units are handed out."""
    found = unit(nodeid)
    return ORDER.index(found) if found in ORDER else len(ORDER)


class UnitScheduling(LoadFileScheduling):
    """xdist's loadfile, by `unit` instead of by file."""

    def _split_scope(self, nodeid: str) -> str:
        return unit(nodeid)
