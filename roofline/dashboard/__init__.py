"""The roofline Dash dashboard."""

from roofline.dashboard.app import create_app, main

__all__ = ["create_app", "main"]
