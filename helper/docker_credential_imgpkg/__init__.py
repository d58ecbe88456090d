"""docker-credential-imgpkg: a Docker credential helper backed by imgpkg's environment variables."""

__version__ = "0.1.0"
HELPER_NAME = "imgpkg"  # what "credsStore"/"credHelpers" name
PROGRAM = "docker-credential-" + HELPER_NAME  # the executable clients run
