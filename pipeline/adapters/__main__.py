"""`python -m pipeline.adapters adapter|switch-control ...`: the same commands as `python -m pipeline`,
without loading the Faust app (deploy/local/up --switch starts them this way)."""
from __future__ import annotations

import click

from pipeline.adapters.cli import register


@click.group()
def main() -> None:
    pass


register(main)

if __name__ == "__main__":
    main()
