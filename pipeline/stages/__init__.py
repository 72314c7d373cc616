"""The pipeline's stages: what each does with a batch. The loop they run on is pipeline/runtime."""
