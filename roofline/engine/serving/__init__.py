"""Stage 5, serving: inference latency and throughput, continuous batching, speculation."""
