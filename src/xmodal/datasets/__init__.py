"""Public data sets fetched into a local cache for demos, tests and benchmarks."""
