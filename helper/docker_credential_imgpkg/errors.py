"""The exceptions a command ends in. ``stdio`` turns them into an exit status and a message on the channel the
command's protocol defines. No secret may ever be put into a message: callers pass names, paths and addresses,
and show any value a user gave through ``redact.shown``."""


class HelperError(Exception):
    """A failure reported to the user: ``str(err)`` is the whole message; exit status 1."""


class UsageError(HelperError):
    """The command line itself is wrong: exit status 2."""
