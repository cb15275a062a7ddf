"""Services as containers started by someone else (GitHub job services, docker compose).

- :mod:`envctl.ci.health`: a service's readiness probe as a container health check.
- :mod:`envctl.ci.standalone`: a scenario's docker-mode services as containers started by
  another tool: image, environment, fixed ports.

The export targets themselves are in :mod:`envctl.export`; run comparison is
:mod:`envctl.report.compare`.
"""
