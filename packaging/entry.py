"""Entry point of the frozen program: exactly what pip's console-script wrapper does for
``docker-credential-imgpkg = helper.cli:main`` (and nothing more, so both behave the same)."""

import sys

from helper.cli import main

if __name__ == "__main__":
    sys.exit(main())
