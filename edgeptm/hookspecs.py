"""Hook specifications. Plugins implement these with ``@edgeptm.hookimpl``.

Every hook is prefixed ``edgeptm_``. A plugin is a module (usually a package
registered in the ``edgeptm`` entry-point group) that defines one or more of
the functions below.
"""

import pluggy

hookspec = pluggy.HookspecMarker("edgeptm")


@hookspec
def edgeptm_register_backends(register):
    """Register deployment backends.

    Call ``register(backend)`` once per backend, where ``backend`` is an
    instance of :class:`edgeptm.backend.Backend`. Keep this hook cheap: import
    the backend's heavy library (onnxruntime, openvino, ...) inside its
    methods, never at module level.
    """


@hookspec
def edgeptm_register_commands(cli):
    """Add commands to the ``edgeptm`` click group.

    ``cli`` is the :class:`click.Group`; decorate new commands with
    ``@cli.command()``.
    """


@hookspec
def edgeptm_register_perturbations(register):
    """Register text perturbations for ``edgeptm robustness``.

    Call ``register(perturbation)`` once per perturbation, where
    ``perturbation`` is an :class:`edgeptm.perturb.Perturbation` (a name, a
    description, the scripts or languages it applies to, a strength range and
    a seeded ``fn(text, strength, rng, context) -> str``). The built-in suite
    is registered through this hook too (``edgeptm.perturb.builtin``).
    """


@hookspec
def edgeptm_register_stages(register):
    """Register recipe stage kinds for ``edgeptm run``.

    Call ``register(kind)`` once per kind, where ``kind`` is an
    :class:`edgeptm.stage.StageKind` instance: its ``kind`` name (the ``stage:``
    value in a recipe), its ``Options`` model (an :class:`edgeptm.stage.StageOptions`
    subclass with ``stage: Literal["<kind>"]``), ``check``, ``run``, ``render`` and
    ``summarize``. The recipe schema is built from the registered kinds. The
    built-in kinds are registered through this hook too (``edgeptm.recipes.stages``).
    """
