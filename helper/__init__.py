"""docker-credential-imgpkg: a Docker credential helper backed by imgpkg's environment variables."""

__version__ = "0.1.0"
DISTRIBUTION = "docker-credential-imgpkg"
PROGRAM = "docker-credential-imgpkg"
