"""`python -m pipeline`: Faust's own commands (worker, ...) plus ours (migrate, ref apply, pay, ...)."""
from __future__ import annotations


def main() -> None:
    from faust.cli.faust import cli

    from pipeline import cli as commands
    from pipeline.app import app

    commands.register(cli)
    app.main()


if __name__ == "__main__":
    main()
