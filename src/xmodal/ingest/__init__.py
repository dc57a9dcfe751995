"""The ingest pipeline: walk, read and decode in parallel, encode in batches, commit atomically."""
