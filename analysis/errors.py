"""Exceptions raised by the analysis layer (kept tiny, as lmfit's ``exceptions.py``)."""


class FitError(RuntimeError):
    """A fit could not be carried out (too few points, optimizer failure, degenerate data)."""


class InsufficientDataError(ValueError):
    """The selection holds fewer points (or runs) than the law has free parameters."""
