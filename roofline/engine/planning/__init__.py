"""Stage 7, planning: fit, serving layout search, chip comparison, context, sweeps."""
