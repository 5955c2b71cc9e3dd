"""Domain exceptions. The CLI turns every one of them into a one-line error."""


class EdgeptmError(Exception):
    """A user-facing error: the message names the file or field and what to do."""


class DataError(EdgeptmError):
    """A dataset file or folder is missing, malformed or inconsistent."""


class RecipeError(EdgeptmError):
    """A recipe does not validate or cannot run."""


class BackendError(EdgeptmError):
    """A backend is unknown, unavailable, or was asked for something it can't do."""


class ModelError(EdgeptmError):
    """A model or artifact can't be loaded, exported or validated."""


class OutputError(EdgeptmError):
    """An output path that must not be written (it holds what edgeptm did not make, or an input)."""


class PerturbationError(EdgeptmError):
    """A perturbation is unknown or was asked for a strength outside its range."""


class QualityError(ModelError):
    """A quantized variant misses the validation gate (agreement with fp32, accuracy drop): nothing is written."""


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error: the file it concerns and what went wrong."""
    what = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if exc.filename is None:
        return f"{what}; check the paths given and their permissions"
    other = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return f"{exc.filename}{other}: {what}; check the path and its permissions"
