"""Exceptions that carry a one-line, user-facing reason.

The CLI maps every ``XmodalError`` to exit status 2 with its message on one line, so each
message must say what went wrong and, where there is one, what to do about it.
"""


class XmodalError(Exception):
    """Base class: bad usage or bad input that the user can fix."""


class UsageError(XmodalError):
    """A request that cannot be carried out as given (bad option, bad query syntax)."""


class QuerySyntaxError(UsageError):
    """A mixed query that does not parse."""


class UnembeddableQueryError(UsageError):
    """No space searched can embed any term of the query (a text query on image spaces)."""


class SchemaError(XmodalError):
    """The collection on disk has a schema this version cannot read."""


class EncoderMismatchError(XmodalError):
    """A space would receive vectors from an encoder other than the one that built it."""


class CollectionLockedError(XmodalError):
    """Another process holds the collection's write lock."""


class MissingDependencyError(XmodalError):
    """An optional back end is needed but not installed."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs an optional dependency: pip install 'xmodal[{extra}]'")
        self.extra = extra


class DecodeError(XmodalError):
    """A media file that cannot be decoded safely; the reason is reported, the file skipped."""
