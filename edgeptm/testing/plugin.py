"""pytest plugin of the conformance kit, loaded through the ``pytest11`` entry point.

It adds ``--edgeptm-backend NAME`` (repeatable), ``--edgeptm-device DEVICE`` and the
ini options ``edgeptm_backends``/``edgeptm_device``, the session fixtures the suite
uses, and the parametrisation of :class:`edgeptm.testing.BackendConformance`
subclasses by backend, and by backend and precision.
"""

from __future__ import annotations

from typing import Any

import pytest

from edgeptm.testing.suite import BackendConformance

NO_BACKEND = (
    "no backend to test: set `backends = [...]` on the BackendConformance subclass, "
    "pass --edgeptm-backend NAME, or set `edgeptm_backends` in the pytest ini file"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("edgeptm", "edgeptm backend conformance kit")
    group.addoption(
        "--edgeptm-backend",
        action="append",
        default=[],
        metavar="NAME",
        help="backend the conformance kit tests (repeatable); for suites that don't name their own",
    )
    group.addoption(
        "--edgeptm-device", default=None, metavar="DEVICE", help="device to test on (default: each backend's own)"
    )
    parser.addini("edgeptm_backends", type="args", default=[], help="backends the conformance kit tests")
    parser.addini("edgeptm_device", default="", help="device the conformance kit tests on")


def _selected(config: pytest.Config, cls: type[BackendConformance]) -> list[str]:
    if cls.backends is not None:
        return list(cls.backends)
    return list(config.getoption("edgeptm_backend") or config.getini("edgeptm_backends"))


def _device(config: pytest.Config, cls: type[BackendConformance]) -> str | None:
    return cls.device or config.getoption("edgeptm_device") or config.getini("edgeptm_device") or None


def _registered(config: pytest.Config) -> Any:
    plugins = getattr(config, "_edgeptm_plugins", None)
    if plugins is None:
        from edgeptm.plugins import load_plugins

        plugins = config._edgeptm_plugins = load_plugins()  # type: ignore[attr-defined]
    return plugins


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cls = metafunc.cls
    if cls is None or not issubclass(cls, BackendConformance):
        return
    names = _selected(metafunc.config, cls)
    if not names:
        raise pytest.UsageError(f"{cls.__module__}.{cls.__name__}: {NO_BACKEND}")
    backends = _registered(metafunc.config).backends()
    if "conformance_case" in metafunc.fixturenames:
        cases = []
        for name in names:
            precisions = backends[name].precisions() if name in backends else ["?"]
            cases += [(name, p) for p in precisions]
        metafunc.parametrize("conformance_case", cases, ids=[f"{b}-{p}" for b, p in cases], indirect=True)
    elif "conformance_backend" in metafunc.fixturenames:
        metafunc.parametrize("conformance_backend", names, ids=names, indirect=True)


@pytest.fixture(scope="session")
def edgeptm_plugins(pytestconfig: pytest.Config) -> Any:
    """The plugins as installed (entry points, honouring EDGEPTM_PLUGINS/EDGEPTM_BLOCK_PLUGINS)."""
    return _registered(pytestconfig)


@pytest.fixture(scope="session")
def edgeptm_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The fine-tuned tiny classifier every backend is checked on; override it to use your own."""
    from edgeptm.testing.model import build_classifier

    return build_classifier(tmp_path_factory.mktemp("edgeptm-kit") / "model")


@pytest.fixture(scope="session")
def edgeptm_kit(edgeptm_plugins: Any, edgeptm_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from edgeptm.testing.kit import Kit

    kit = Kit(edgeptm_plugins, edgeptm_model, tmp_path_factory.mktemp("edgeptm-kit-artifacts"))
    yield kit
    kit.close()


def _backend(request: pytest.FixtureRequest, kit: Any, name: str, *, need_available: bool) -> Any:
    backends = kit.plugins.backends()
    if name not in backends:
        problems = "; ".join(str(p) for p in kit.plugins.problems)
        pytest.fail(
            f"backend {name!r} is not registered (registered: {', '.join(backends) or 'none'}); "
            f"is its distribution installed?{' Plugin problems: ' + problems if problems else ''}",
            pytrace=False,
        )
    backend = backends[name]
    if need_available:
        status = backend.availability()
        if not status.available:
            pytest.skip(f"backend {name!r} is unavailable here: {status.reason}")
    kit.device = _device(request.config, request.cls) if request.cls else None
    return backend


@pytest.fixture
def conformance_backend(request: pytest.FixtureRequest, edgeptm_kit: Any) -> Any:
    """The backend under test (a :class:`edgeptm.backend.Backend`), unavailable or not."""
    return _backend(request, edgeptm_kit, request.param, need_available=False)


@pytest.fixture
def conformance_case(request: pytest.FixtureRequest, edgeptm_kit: Any) -> Any:
    """``(backend, precision)`` under test; skipped with the reason when the backend is unavailable."""
    name, precision = request.param
    return _backend(request, edgeptm_kit, name, need_available=True), precision
