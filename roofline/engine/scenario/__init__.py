"""Stage 1, the scenario: the workload step and precision recipe a verb is asked about."""
