"""The one place the package version is written (read by hatchling at build time)."""

__version__ = "0.2.0"
