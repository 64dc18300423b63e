"""The Asteroid Prospector training service: launch, supervise and stream training runs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("asteroid-prospector")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
