"""The error catalogue: every error sentimon raises on purpose, each saying what went wrong and
what to do next. The CLI turns any of them into one `error:` line and an exit status
(flows/cli/errors.py): 2 for a UsageError, a command line that cannot be right (a file that
does not exist, a name nothing knows, a malformed option); 1 for the rest, where the command
was right but what it read or reached failed (bad data, a database down)."""

import re


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
    """No stored post fits a labelling request (none stored, none scored by the active model).
    A source or brand that nothing stored names is a usage mistake (LabellingSelectionError)."""


class NoDatabaseError(SentimonError):
    """The results database has not been created yet."""


class SourceBusyError(SentimonError, RuntimeError):
    """Another live process holds the source's lease."""


class LeaseLostError(SentimonError, RuntimeError):
    """The lease expired and another process took the source: this batch must not commit."""


class PartitionsFailedError(SentimonError):
    """Some partitions of a run failed; the others committed what they read."""


class DatabaseFailedError(SentimonError):
    """The results database failed during a run; the failed batch was rolled back."""


class UsageError(SentimonError):
    """A command was given an option value that cannot be right: the CLI exits 2."""


class UnknownModelVersionError(UsageError, LookupError):
    """A model version was named that is neither registered nor a model directory."""


class LabelledFileMismatchError(CorpusError, UsageError):
    """`train`'s --map or --labels cannot be right: a malformed pair, or a column the labelled
    file lacks (the file's values themselves are a CorpusError: they are data, not usage)."""


class DevsetNotFoundError(DevsetError, UsageError):
    """A folder given for the UCI sentences does not hold them."""


class LabellingSelectionError(LabellingError, UsageError):
    """`label export --source/--brand` names a source or brand that no stored post has."""


class UnknownBrandError(UsageError, LookupError):
    """A brand was named that neither the brands file nor the database knows."""


class FirstBatchRejectedError(UsageError):
    """Most of a new source's first batch would be rejected for one reason: nothing is stored.

    A usage error (exit 2): the same mistake the checks before a run find (a mapped column the
    input lacks, the wrong encoding) is found here in input they cannot check up front.
    """


class EmptyPeriodError(UsageError, LookupError):
    """A report was asked for a period that holds no post."""


class DatabaseUnavailableError(SentimonError):
    """The results database cannot be reached, opened or written: nothing was read or stored."""


class OrchestratorUnavailableError(SentimonError):
    """Prefect's API (its temporary server, or the server PREFECT_API_URL names) did not
    answer: no flow ran, nothing was read or stored."""


class ClusterUnavailableError(SentimonError):
    """No Dask scheduler answers at the address --dask-address gives: nothing was read."""


def toml_syntax_error(path: object, text: str, err: ValueError) -> str:
    """``FILE:LINE: what is wrong (column C)`` for a tomllib.TOMLDecodeError of ``text``.

    tomllib (Python 3.11) keeps the place only in its message: "... (at line 3, column 5)" or
    "... (at end of document)", which is the file's last line.
    """
    message = str(err)
    match = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if match:
        line, where = match.group(1), f" (column {match.group(2)})"
        message = message[: match.start()]
    else:
        line, where = str(max(1, len(text.splitlines()))), " (at the end of the file)"
        message = message.removesuffix(" (at end of document)")
    return f"{path}:{line}: not valid TOML: {message}{where}"
