"""Service types: the plugin interface (:mod:`envctl.services.base`), the open registry of
types (:mod:`envctl.services.registry`, entry-point group ``envctl.services``), and one
package per built-in type (``kafka/``, ``postgres/``, ``redis/``, ``generic/``) holding
everything about it.

Code outside a type's package never imports it: it asks the registry for the type's plugin
(:func:`plugin_for`) and calls the plugin's hooks.
"""

from __future__ import annotations

from envctl.services.registry import plugin_for, plugins, type_names

__all__ = ["plugin_for", "plugins", "type_names"]
