"""Compose interop: scenarios as compose files, and compose services in scenarios.

- :mod:`envctl.compose.export`: ``envctl compose export`` — a scenario as a compose file.
- :mod:`envctl.compose.translate`: compose services as envctl service specs
  (``envctl compose import``, and the scenario's ``compose:`` key).
- :mod:`envctl.compose.standard`: the ready-made files in ``compose/``.
- :mod:`envctl.export.compose_cli`: the compose v2 CLI through python-on-whales.
"""
