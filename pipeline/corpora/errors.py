"""What can go wrong getting a corpus: each message names the file, line or setting to fix."""

from pipeline.errors import BadInput


class CorpusFormatError(BadInput, ValueError):
    """A corpus file is malformed; the message names the file and line."""


class CorpusUnavailableError(BadInput, RuntimeError):
    """The corpus could not be downloaded and no local copy was given."""


class ChecksumMismatchError(BadInput, ValueError):
    """A downloaded or cached file does not have its recorded digest."""
