"""The error catalogue: each says what went wrong and what to do next."""


class SentimonError(Exception):
    """Base of every error sentimon raises on purpose."""


class ConfigError(SentimonError):
    """A setting, brands file or config file is missing or malformed."""


class SourceError(SentimonError):
    """A source cannot be opened or its stored cursor does not fit it."""


class ArtifactError(SentimonError):
    """A model artifact is missing, incomplete or fails its sha256 check."""


class CorpusError(SentimonError):
    """The training corpus cannot be found or read."""


class DevsetError(SentimonError):
    """A development set (the UCI sentences) is missing or malformed."""


class LabellingError(SentimonError):
    """No stored post fits a labelling request (none stored, unknown source or brand, ...)."""
