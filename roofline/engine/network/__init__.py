"""Stage 3, network: the cluster of chips and links, and collective communication times."""
