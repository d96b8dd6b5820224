"""Stage 2, operators: FLOPs and bytes per operator of one step, and the memory it holds."""
