"""Exceptions whose message tells the user what went wrong and what to do next."""


class HwnnError(Exception):
    """Base class: the CLI prints ``str(err)`` as a one-line error and exits non-zero."""


class DataError(HwnnError):
    """A data file is missing, corrupt, or the data root cannot be found."""


class ConfigError(HwnnError):
    """A run configuration is invalid (wrong key, type or value)."""


class EdaError(HwnnError):
    """An EDA tool (Yosys, ABC, OpenSTA, Icarus, Verilator) failed, timed out or is missing."""
