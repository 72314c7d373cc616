"""`python -m pipeline` (and the `rating` console script): every command of the product."""
from __future__ import annotations

import os
import sys

from pipeline import cli as commands
from pipeline.demo_env import adopt_demo_env


def main() -> None:
    # after `demo`, the commands find its run (pipeline/demo_env.py); before Settings is ever built
    adopted = adopt_demo_env(os.environ, sys.argv[1:])
    if adopted is not None:
        path, values = adopted
        print(f"using the demo run of {path} (RATING_TOPIC_PREFIX={values['RATING_TOPIC_PREFIX']}); "
              "set RATING_TOPIC_PREFIX to use another", file=sys.stderr)
    commands.register(commands.cli)
    commands.cli(prog_name="python -m pipeline")


if __name__ == "__main__":
    main()
