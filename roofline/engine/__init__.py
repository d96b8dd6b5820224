"""The analytical engine, one stage per subpackage, in the order the data flows:

1. ``scenario``  - what is asked: workload step (batch, sequence, attention work),
   precision recipe and cluster (chips, scale-up / scale-out links), validated once at
   the edge of every verb;
2. ``operators`` - the per-operator table (FLOPs, bytes per matmul/attention/norm) and
   the memory it needs (weights, KV cache);
3. ``network``   - collective communication times over the cluster;
4. ``timing``    - roofline time per operator at an efficiency, the forward pass with its
   communication, and what that time costs ($, energy);
5. ``serving``   - inference latency/throughput, continuous batching, speculative decoding;
6. ``training``  - training FLOPs, memory per device, step time and layout search;
7. ``planning``  - the questions users bring: fit, layout searches, compare, context, sweep.

A stage imports only from stages above it in this list (and from ``roofline.specs``);
nothing here imports ``roofline.views`` or ``roofline.dashboard`` (tests/test_layers.py).
"""
