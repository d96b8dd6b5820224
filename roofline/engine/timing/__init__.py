"""Stage 4, timing: roofline time per operator, efficiencies, the timed forward pass, and
what the time costs in $ and energy."""
