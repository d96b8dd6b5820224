"""Stage 1, the scenario: what a verb is asked about (workload, precision recipe, layout,
cluster), built and validated once at the verb's edge."""
