"""Views over the engine: number formatting, the command line, plots."""
