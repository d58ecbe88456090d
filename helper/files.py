"""Reading the small files the helper consults (docker's config.json, its own settings) without surprises:
never blocking on a FIFO planted at the path, never reading more than a bound, clear errors naming the file."""

from __future__ import annotations

import os


def read_small_file(path: str, limit: int, what: str) -> bytes | None:
    """The bytes of the regular file at ``path``; None when it does not exist.

    ``what`` names the file in messages ("docker config /root/.docker/config.json").
    """
    import stat

    from .errors import HelperError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise HelperError(f"{what}: cannot open: {err.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise HelperError(f"{what}: not a regular file")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise HelperError(f"{what}: larger than {limit >> 20} MiB")
        return b"".join(chunks)
    except OSError as err:
        raise HelperError(f"{what}: cannot read: {err.strerror}") from None
    finally:
        os.close(fd)
