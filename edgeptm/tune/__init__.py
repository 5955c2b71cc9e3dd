"""Choose a deployment variant for a device: a search over backend × precision × options × model
transforms, accuracy first (per language), then latency and memory, then the Pareto choice.

Modules: :mod:`.space` (the search space, typed :class:`~.space.Candidate` specs and the registry
of dimensions and transforms), :mod:`.build` (each build step once, in a content-keyed cache),
:mod:`.pareto` (the front and the choice), :mod:`.result` (typed results), :mod:`.search` (the
loop), :mod:`.render` (text and Markdown).

Adding a dimension
------------------
A dimension is a list of values in :class:`~.space.SearchSpace` and one registered object that
turns a candidate into its variant for a value:

* **a backend option** (``calibration`` → ``calibrate_method`` of int8-static, ``weight_type`` → s8, u8 or
  s8-reduce-range weights of onnx int8):
  add the field to ``SearchSpace`` and call :func:`~.space.register_dimension` with an
  :class:`~.space.OptionDimension` naming the backend option and the precisions it applies to.
  Candidates where it does not apply keep their default, and duplicates are dropped, so the space
  stays as small as it can.
* **a model transform** applied to the torch model before export (a ``distill`` student with fewer
  layers, vocabulary trimming): add the field to ``SearchSpace`` and register a
  :class:`~.space.Transform` (``label``, ``config`` for the cache key, and ``build(model, value, out,
  inputs)`` writing a torch classifier folder at ``out``). The build cache keys it by its source,
  its config and the training data, so each is built once.
* **another kind of candidate**, built from the data rather than from the model, as the TF-IDF
  baseline is (:func:`~.space.baseline_candidate`: a :class:`~.space.Candidate` of ``kind``
  ``tfidf-linear``, with its training options; :meth:`~.build.BuildCache.baseline`: one cached step
  keyed by those options and the data): make the candidate in :func:`~.space.candidates` and its
  step in :meth:`~.build.BuildCache.artifact`. The search, limits, front and report only read
  :class:`~.result.CandidateResult`; a model that reads raw text is timed in characters
  (:func:`~.search.timed_length`).
"""
