"""Entry point of the frozen program: exactly what pip's console-script wrapper does for
``docker-credential-imgpkg = docker_credential_imgpkg.cli:main`` (and nothing more, so both behave the same)."""

import sys

from docker_credential_imgpkg.cli import main

if __name__ == "__main__":
    sys.exit(main())
