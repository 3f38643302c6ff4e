"""Errors that the CLI reports as one line (``error: ...``) with exit code 2."""


class TfrecIncError(Exception):
    """Base class: a user-facing problem with a config or a data file, not a bug."""


class ConfigError(TfrecIncError, ValueError):
    """The experiment config is invalid; the message names the key path."""


class DataError(TfrecIncError, ValueError):
    """A data file is missing or malformed; the message names the file (and line)."""
