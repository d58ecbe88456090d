"""Errors as values: each carries the one-line message the protocol prints on stdout (exit 1).

No secret may ever be put into a message; callers pass names, paths and addresses only.
"""


class HelperError(Exception):
    """A failure reported to the client: ``str(err)`` is printed on stdout and the exit status is 1."""


class NotFound(HelperError):
    """No credentials for the requested server (the exact string Go clients and docker-py test for)."""

    def __init__(self) -> None:
        super().__init__("credentials not found in native keychain")
