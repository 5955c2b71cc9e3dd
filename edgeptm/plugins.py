"""Plugin manager factory and a typed facade over the hooks.

Plugins come from the ``edgeptm`` entry-point group (the built-in backends
too) plus any module passed in ``extra``. ``EDGEPTM_PLUGINS`` (comma-separated
entry-point names) is an allow-list: when set, only those load.
``EDGEPTM_BLOCK_PLUGINS`` is a block-list. A plugin that fails to import or
raises inside a hook is recorded in :attr:`Plugins.problems` by name and
skipped; the others keep working.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from edgeptm import hookspecs
from edgeptm.errors import BackendError

if TYPE_CHECKING:
    import click

    from edgeptm.backend import Availability, Backend
    from edgeptm.perturb import Perturbation
    from edgeptm.stage import StageKind

ENTRY_POINT_GROUP = "edgeptm"
CORE_PLUGINS = frozenset({"perturbations", "stages"})
"""The core's own entry points (the built-in perturbation suite and stage kinds): registered like a
plugin's, and loaded even when ``EDGEPTM_PLUGINS`` does not list them (``EDGEPTM_BLOCK_PLUGINS`` can
still block them)."""


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that failed to load or whose hook raised."""

    plugin: str
    message: str
    fatal: bool = False
    """A misconfiguration no command should run with (``EDGEPTM_PLUGINS`` naming a plugin that isn't installed:
    a typo there silently disables every backend)."""

    def __str__(self) -> str:
        return f"plugin {self.plugin!r}: {self.message}"


def _env_names(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def make_plugin_manager(
    *,
    allow: Iterable[str] | None = None,
    block: Iterable[str] | None = None,
    extra: Iterable[ModuleType | object] = (),
) -> tuple[pluggy.PluginManager, list[PluginProblem]]:
    """Build a plugin manager with the hookspecs and the allowed plugins loaded.

    ``allow``/``block`` default to ``EDGEPTM_PLUGINS``/``EDGEPTM_BLOCK_PLUGINS``.
    Returns the manager and the problems met while loading.
    """
    allowed = set(allow) if allow is not None else _env_names("EDGEPTM_PLUGINS")
    blocked = set(block) if block is not None else (_env_names("EDGEPTM_BLOCK_PLUGINS") or set())
    pm = pluggy.PluginManager("edgeptm")
    pm.add_hookspecs(hookspecs)
    problems: list[PluginProblem] = []
    installed = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} - CORE_PLUGINS)
    if allow is None and allowed is not None:
        for name in sorted(allowed - set(installed) - CORE_PLUGINS):
            problems.append(
                PluginProblem(
                    name,
                    f"EDGEPTM_PLUGINS names it, but no installed plugin is called that (installed: "
                    f"{', '.join(installed) or 'none'}); fix or unset EDGEPTM_PLUGINS",
                    fatal=True,
                )
            )
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in blocked or (allowed is not None and ep.name not in allowed and ep.name not in CORE_PLUGINS):
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            if not pm.get_hookcallers(plugin):
                problems.append(PluginProblem(ep.name, f"{ep.value} implements no edgeptm_* hooks"))
        except (
            Exception,
            SystemExit,
        ) as exc:  # a broken plugin (even one calling sys.exit) must not take the rest down
            problems.append(PluginProblem(ep.name, f"failed to load: {_describe(exc)}"))
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if name not in blocked:
            pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        problems.append(PluginProblem(getattr(exc, "plugin_name", "?") or "?", str(exc)))
    return pm, problems


@dataclass
class Plugins:
    """Typed access to what the plugins registered."""

    pm: pluggy.PluginManager
    problems: list[PluginProblem] = field(default_factory=list)
    _backends: dict[str, Backend] | None = None
    _perturbations: dict[str, Perturbation] | None = None
    _stage_kinds: dict[str, StageKind] | None = None

    def _call_each(self, hook: Any, **kwargs: Any) -> None:
        """Call ``hook`` plugin by plugin, so one raising doesn't stop the others."""
        for impl in reversed(hook.get_hookimpls()):
            try:
                impl.function(**kwargs)
            except (Exception, SystemExit) as exc:
                self.problems.append(PluginProblem(impl.plugin_name, f"{hook.name} raised {_describe(exc)}"))

    def _collect(self, hook: Any, kind: type, what: str, key: str = "name") -> dict[str, Any]:
        """Call a ``register``-style hook; return the registered objects by their ``key`` attribute."""
        found: dict[str, Any] = {}

        def register(obj: Any) -> None:
            if not isinstance(obj, kind):
                raise TypeError(f"register() wants a {kind.__name__} instance, got {obj!r}")
            name = getattr(obj, key)
            if name in found:
                raise ValueError(f"{what} {name!r} is already registered")
            found[name] = obj

        self._call_each(hook, register=register)
        return found

    def backends(self) -> dict[str, Backend]:
        """All registered backends by name, in registration order."""
        if self._backends is None:
            from edgeptm.backend import Backend

            self._backends = self._collect(self.pm.hook.edgeptm_register_backends, Backend, "backend")
        return self._backends

    def backend(self, name: str) -> Backend:
        """The backend called ``name``; a clear error when there is none."""
        backends = self.backends()
        if name not in backends:
            known = ", ".join(sorted(backends)) or "none"
            broken = "".join(f"; {p}" for p in self.problems if p.plugin == name)
            raise BackendError(
                f"unknown backend {name!r} (registered: {known}){broken}; "
                "`edgeptm backends` lists them and their install hints"
            )
        return backends[name]

    def availability(self, backend: Backend) -> Availability:
        """``backend.availability()``, or unavailable with the reason when the plugin's own check raises."""
        from edgeptm.backend import Availability

        try:
            return backend.availability()
        except (Exception, SystemExit) as exc:
            return Availability(
                False, f"its availability check raised {_describe(exc)}", "report it to the plugin's authors"
            )

    def check_selection(self) -> None:
        """Raise the first fatal problem (see :attr:`PluginProblem.fatal`) as a one-line :class:`BackendError`."""
        for problem in self.problems:
            if problem.fatal:
                raise BackendError(str(problem))

    def available_backend(self, name: str) -> Backend:
        """Like :meth:`backend`, but also fails when the backend can't run here."""
        backend = self.backend(name)
        status = self.availability(backend)
        if not status.available:
            raise BackendError(f"backend {name!r} is unavailable: {status.reason}{unavailable_hint(backend, status)}")
        return backend

    def perturbations(self) -> dict[str, Perturbation]:
        """All registered text perturbations by name, in registration order."""
        if self._perturbations is None:
            from edgeptm.perturb import Perturbation

            self._perturbations = self._collect(
                self.pm.hook.edgeptm_register_perturbations, Perturbation, "perturbation"
            )
        return self._perturbations

    def stage_kinds(self) -> dict[str, StageKind]:
        """All registered recipe stage kinds by their ``kind`` name, in registration order."""
        if self._stage_kinds is None:
            from edgeptm.stage import StageKind

            self._stage_kinds = self._collect(self.pm.hook.edgeptm_register_stages, StageKind, "stage kind", key="kind")
        return self._stage_kinds

    def register_commands(self, cli: click.Group) -> None:
        self._call_each(self.pm.hook.edgeptm_register_commands, cli=cli)


def unavailable_hint(backend: Backend, status: Availability) -> str:
    """``"; <what to do>"`` for an unavailable backend: its own hint, else the install command."""
    if status.hint:
        return f"; {status.hint}"
    return f"; install it with `{backend.install_hint}`" if backend.install_hint else ""


def load_plugins(
    *,
    allow: Iterable[str] | None = None,
    block: Iterable[str] | None = None,
    extra: Iterable[ModuleType | object] = (),
) -> Plugins:
    """Factory: a fresh :class:`Plugins` facade over a newly built manager."""
    pm, problems = make_plugin_manager(allow=allow, block=block, extra=extra)
    return Plugins(pm, problems)


_default: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, built on first use (never at import)."""
    global _default
    if _default is None:
        _default = load_plugins()
    return _default


def reset_plugins(plugins: Plugins | None = None) -> None:
    """Replace (or forget) the process-wide plugins; used by tests."""
    global _default
    _default = plugins
