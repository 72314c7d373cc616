"""The stream runtime every stage runs on: one client factory, one read-to-end, one checkpoint loop,
state on disk. Nothing here knows about calls or money; pipeline/stages holds what the stages do."""
