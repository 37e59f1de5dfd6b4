"""Errors the LIIF tool raises on bad input; each message is one line a user can act on."""


class LiifError(Exception):
    """Base class: anything the CLI reports as a one-line error."""


class ImageError(LiifError):
    """An input image that cannot be read, or an output that would be too large."""


class CheckpointError(LiifError):
    """A weights file that is missing, unreadable or not a LIIF checkpoint."""


class WeightsFetchError(LiifError):
    """The default weights could not be downloaded or failed verification."""
