"""Reports on rating.rated_calls: pure SQL builders (queries), a runner (run), output (output, plot)."""
