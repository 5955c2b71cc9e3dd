"""Seeded, script-aware text perturbations for robustness evaluation.

A :class:`Perturbation` is registered through the ``edgeptm_register_perturbations`` hook (the
built-in suite in :mod:`edgeptm.perturb.builtin` too) and listed by ``edgeptm robustness --list``.
"""

from edgeptm.perturb.base import Context, Perturbation, Spec, count, example_rng, parse_spec, resolve_specs

__all__ = ["Context", "Perturbation", "Spec", "count", "example_rng", "parse_spec", "resolve_specs"]
