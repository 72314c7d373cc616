"""The worker's stages: thin plumbing around the pure code (read, decode, call, send). One file each."""
