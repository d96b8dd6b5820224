"""Views over the engine: plots (number formatting lives in roofline.formatting)."""
