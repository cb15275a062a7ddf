"""Where envctl runs: CI workflows (GitHub Actions) and containers started by someone else.

- :mod:`envctl.ci.health`: a service's readiness probe as a container health check.
- :mod:`envctl.ci.standalone`: a scenario's docker-mode services as containers started by
  another tool (GitHub job services, docker compose): image, environment, fixed ports.
- :mod:`envctl.ci.github`: ``envctl ci github`` — a GitHub Actions workflow.
- :mod:`envctl.ci.actions`: workflow commands and the step summary, for output inside Actions.
- :mod:`envctl.ci.compare`: ``envctl compare`` — two recorded runs side by side.

Everything here is pure: it builds data and text; the CLI writes it.
"""
