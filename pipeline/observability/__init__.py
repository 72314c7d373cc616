"""Operations: Prometheus metrics and the /metrics, /health, /ready HTTP server of the worker."""
