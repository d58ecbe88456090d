"""The two exceptions a request can end in. ``cli`` turns them into the protocol's answer: the message on stdout
(and stderr), exit status 1. No secret may ever be put into a message: callers pass names, paths and addresses.
"""

NOT_FOUND_MESSAGE = "credentials not found in native keychain"  # the exact text Go clients and docker-py test for


class HelperError(Exception):
    """A failure reported to the client: ``str(err)`` is printed on stdout and the exit status is 1."""


class NotFound(HelperError):
    """No credentials for the requested server."""

    def __init__(self) -> None:
        super().__init__(NOT_FOUND_MESSAGE)
