"""Stage 3, network: collective communication times over the scenario's cluster."""
