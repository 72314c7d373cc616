"""`python -m pipeline.rerate ...`: the rerate command on its own (the same as `python -m pipeline rerate`)."""
from pipeline.rerate.cli import rerate

if __name__ == "__main__":
    rerate()
