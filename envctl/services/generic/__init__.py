"""Everything about ``type: generic`` (any container), in one package.

- :mod:`.plugin` — the spec model, container settings and the configurable readiness probe
  (:class:`~.plugin.GenericService`). Generic services have no data hooks and no tool.
"""
