"""Analysis, pure (no I/O, no clock): coverage, history, freshness, ignore rules,
thresholds, anomalies, and the verdict per guest (``assess``)."""
