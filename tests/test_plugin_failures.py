"""A broken plugin never takes edgeptm down: one whose availability check raises is listed as unavailable
with the reason, and one that exits at import is a reported problem, not a silent end."""

from __future__ import annotations

import json
import types

from click.testing import CliRunner

from edgeptm import hookimpl
from edgeptm.backend import Availability


def _flaky_plugin() -> types.ModuleType:
    from edgeptm_numpy.backend import NumpyBackend

    class Flaky(NumpyBackend):
        name = "flaky"

        def availability(self) -> Availability:
            raise RuntimeError("driver crashed")

    module = types.ModuleType("flaky_plugin")

    @hookimpl
    def edgeptm_register_backends(register):
        register(Flaky())

    module.edgeptm_register_backends = edgeptm_register_backends
    return module


def test_backends_lists_a_backend_whose_availability_raises(cli, monkeypatch) -> None:
    from edgeptm import plugins

    monkeypatch.setattr(plugins, "_default", plugins.load_plugins(allow=["numpy"], extra=[_flaky_plugin()]))
    result = CliRunner().invoke(cli, ["backends", "--json"])
    assert result.exit_code == 0, result.output
    flaky = next(b for b in json.loads(result.stdout)["backends"] if b["name"] == "flaky")
    assert flaky["available"] is False
    assert flaky["reason"] == (
        "its availability check raised RuntimeError: driver crashed; report it to the plugin's authors"
    )


def test_a_plugin_that_exits_at_import_is_a_problem(monkeypatch) -> None:
    from importlib import metadata

    from edgeptm import plugins

    class Exits:
        name, value, group = "exits", "exits_module", "edgeptm"

        def load(self):
            raise SystemExit(3)

    real = metadata.entry_points
    monkeypatch.setattr(plugins, "entry_points", lambda group: [*real(group=group), Exits()])
    loaded = plugins.load_plugins(allow=["numpy", "exits"])
    assert [str(p) for p in loaded.problems] == ["plugin 'exits': failed to load: SystemExit: 3"]
    assert "numpy" in loaded.backends()


def test_an_allow_list_naming_no_installed_plugin_is_fatal(monkeypatch) -> None:
    from edgeptm import plugins
    from edgeptm.errors import BackendError

    monkeypatch.setenv("EDGEPTM_PLUGINS", "numpy,nosuch")
    loaded = plugins.load_plugins()
    try:
        loaded.check_selection()
    except BackendError as exc:
        assert str(exc).startswith("plugin 'nosuch': EDGEPTM_PLUGINS names it, but no installed plugin is called")
    else:
        raise AssertionError("an allow-list naming a plugin that is not installed was accepted")
