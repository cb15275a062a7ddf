"""Running scenarios: one (``Runner.run``), all (``run_all``), or again (``replay``).

```python
from envctl.runner import Runner
from envctl.settings import Settings

settings = Settings.load()
runner = Runner(settings)
outcome = runner.run(settings.load_scenario("scenarios/unit/scenario_smoke.yaml"))
assert outcome.status == "passed", outcome.details()
```
"""

from __future__ import annotations

from envctl.runner.context import RunContext
from envctl.runner.modes import ModeDecision, resolve_modes
from envctl.runner.outcome import ScenarioOutcome, StepFailed, StepRecord
from envctl.runner.replay import ReplayResult, replay
from envctl.runner.run import Runner, SharedInstance, cleanup_environment
from envctl.runner.run_all import RunAllResult, run_all

__all__ = [
    "ModeDecision",
    "ReplayResult",
    "RunAllResult",
    "RunContext",
    "Runner",
    "ScenarioOutcome",
    "SharedInstance",
    "StepFailed",
    "StepRecord",
    "cleanup_environment",
    "replay",
    "resolve_modes",
    "run_all",
]
