"""Export targets: a scenario's services as configuration another tool runs.

- :mod:`envctl.export.github`: ``envctl ci github`` — a GitHub Actions workflow.
- :mod:`envctl.export.kubernetes`: ``envctl ci kubernetes`` — an Indexed Job running run-all
  in shards.
- :mod:`envctl.export.actions`: workflow commands and the step summary, for output inside
  GitHub Actions.
- :mod:`envctl.export.compose_cli`: the compose v2 CLI (``envctl compose export --validate``).
- :mod:`envctl.export.yamltext`: YAML text for generated files people read and diff.

Everything here but ``compose_cli`` is pure: it builds data and text; the CLI writes it.
"""
