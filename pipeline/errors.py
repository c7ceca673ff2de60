"""The one line between the user's mistakes and rnnflow's faults.

``BadInput`` means the user's input, file, config or reference is wrong: the message names the
file, row or field, the command says it in one line and exits 2, and a task that raises it is not
retried (the same input fails the same way). Any other exception is a fault of rnnflow or its
stack: exit 1, with the traceback kept in a log file.
"""

from __future__ import annotations


class BadInput(Exception):
    """The user's input is wrong; the message says what to fix."""


class BadValue(BadInput, ValueError):
    """A value the user gave (an option, a field, a reference) is not acceptable."""


class NotFound(BadInput, LookupError):
    """What the user named (a model, a version, a DAG run) does not exist."""
