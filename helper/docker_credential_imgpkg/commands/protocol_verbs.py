"""The docker-credential-helper verbs ``get``, ``store``, ``erase`` and ``list``: what clients run.

``run`` is the verb itself, from stdin's bytes and an environment to the text of the answer (testable in
process); ``main`` is the process around it: the bounded stdin, the answer on stdout, and the protocol's
error contract: the message on stdout (where Go clients read it) and stderr (docker discards a failing
helper's stdout but shows its stderr), exit status 1.
"""

from __future__ import annotations

import sys

from .. import PROGRAM
from ..errors import HelperError
from ..protocol import NotFound
from ..stdio import EXIT_OK, answer, outcome, read_stdin, warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def run(action: str, data: bytes, environ: Mapping[str, str]) -> str:
    """Perform one protocol action on ``data`` (stdin; unused by ``list``) and return what goes to stdout.
    Raises NotFound or HelperError: ``main`` turns them into the protocol's answer."""
    from ..chain import Chain
    from ..protocol import decode_server_url

    if action == "list":
        from ..protocol import encode_list

        return encode_list(Chain(environ, delegate=False).usernames())
    if action == "get":
        from ..protocol import encode_get

        return encode_get(Chain(environ).get(decode_server_url(data)))
    chain = Chain(environ)
    if action == "store":
        from ..protocol import decode_store

        chain.store.save(decode_store(data), chain.trace)
        return ""
    if action == "erase":
        chain.store.erase(decode_server_url(data), chain.trace)
        return ""
    raise HelperError(f"unknown action: {action}")


def main(action: str, environ: Mapping[str, str]) -> int:
    """Read stdin (``list`` reads none), run the verb, write its answer or its error; the exit status."""
    try:
        from ..protocol import MAX_INPUT_BYTES

        data = b"" if action == "list" else read_stdin(MAX_INPUT_BYTES)
        text, status = run(action, data, environ), EXIT_OK
    except (Exception, KeyboardInterrupt) as err:
        status, message = outcome(err)
        if isinstance(err, (NotFound, KeyboardInterrupt)):
            text = message + "\n"
        else:
            _tell_user(message)
            text = (message if isinstance(err, HelperError) else f"{PROGRAM}: {message}") + "\n"
    return answer(text, status)


def _tell_user(message: str) -> None:
    """Also put an error on stderr: docker discards a failing helper's stdout but shows its stderr (not when
    stdout is a terminal: a person would read it twice)."""
    try:
        if not sys.stdout.isatty():
            warn(message)
    except (OSError, ValueError, AttributeError):
        pass
