"""tok's errors: each carries the library's one-line message, the line the
`tok` command prints after `tok: `."""


class Error(Exception):
    """Any failure of tok's library; `str(error)` is its one-line message."""


class InputError(Error, ValueError):
    """The input is wrong: a malformed vocabulary file, an unknown pattern or
    name, an id outside the vocabulary, a special token that is not allowed."""


class FileError(Error, OSError):
    """A file could not be read or written (missing, unreadable, a folder
    that tok may not replace)."""
