"""`python -m pipeline` (and the `rating` console script): every command of the product."""
from __future__ import annotations


def main() -> None:
    from pipeline import cli as commands

    commands.register(commands.cli)
    commands.cli(prog_name="python -m pipeline")


if __name__ == "__main__":
    main()
