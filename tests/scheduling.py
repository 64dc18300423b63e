"""How `make test` shares the suite between its two xdist workers (`-n 2 --dist loadfile
--no-loadscope-reorder`): by module, so that a module's fixtures (a shared server, the Ray head)
start once, except that the dashboard's modules go together (their browser and server are per
package); the longest units first, so that both workers finish together."""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

DASHBOARD = "tests/dashboard/"

# The units that take longest, longest first; the others follow in collection order.
LONGEST_FIRST = (
    DASHBOARD,
    "tests/app/test_restart.py",
    "tests/app/test_ray_launcher.py",
    "tests/app/test_runs.py",
    "tests/trainer/test_warmup.py",
    "tests/app/test_run_config.py",
    "tests/app/test_ray_integration.py",
    "tests/trainer/test_trainer_run.py",
    "tests/trainer/test_replays.py",
    "tests/trainer/test_ppo.py",
)


def unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its module, or the dashboard package."""
    module = nodeid.split("::", 1)[0]
    return DASHBOARD if module.startswith(DASHBOARD) else module


def rank(nodeid: str) -> int:
    """Where the test's unit comes in the order the units are handed out."""
    found = unit(nodeid)
    return LONGEST_FIRST.index(found) if found in LONGEST_FIRST else len(LONGEST_FIRST)


class UnitScheduling(LoadFileScheduling):
    """xdist's loadfile, by `unit` instead of by file."""

    def _split_scope(self, nodeid: str) -> str:
        return unit(nodeid)
