"""`bench-cards`: what `cards generate --count N` costs (wall time, peak memory), beside writing N
CSV rows of the same shape alone (the baseline), in the same run, each in its own process so that
each peak is its own (os.wait4's ru_maxrss).

- baseline: N rows `number,pin,balance` of random digits written to a file, nothing else;
- generate: the batch as the command makes it (unique numbers, PINs, PBKDF2 hashes, the card
  records, their accounts and face values) and its CSV written to a file, against a book holding
  the group; nothing published;
- command (with --publish): the real `python -m pipeline cards generate` on the local broker under
  a scratch topic prefix: the above plus reading the reference data, the write rules and the
  publish (one transaction of 2N records, then N payments). The scratch topics are deleted after.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import click

GROUP = {"kind": "card_group", "id": "bench-cards", "owner": "admin", "tariff": "bench-cards-t", "face_value": "5",
         "number_length": 12, "pin_length": 8}
TARIFF = {"kind": "tariff", "id": "bench-cards-t", "owner": "admin", "rates": [{"prefix": "", "rate": "0.1"}]}


def _baseline(count: int, out: Path) -> None:
    with out.open("w") as f:
        f.write("number,pin,balance\n")
        for _ in range(count):
            f.write(f"{100000000000 + secrets.randbelow(900000000000)},{secrets.randbelow(10 ** 8):08d},5\n")


def _generate(count: int, out: Path) -> None:
    from pipeline.cards.batch import generate
    from pipeline.reference.book import ReferenceBook
    from pipeline.reference.records import parse_reference_record

    book = ReferenceBook()
    for record in (TARIFF, GROUP):
        book.apply(parse_reference_record(record))
    made = generate(book, GROUP["id"], count, sold=True)
    with out.open("w") as f:
        f.writelines(made.csv_lines())


def _measure(args: list[str], env: dict | None = None) -> tuple[float, float, int]:
    """(seconds, peak MiB, CSV rows written to stdout or the file) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = child.stdout.read(), child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise click.ClickException(f"{' '.join(args[:4])}... failed: {stderr.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout.count(b"\n")


def run(count: int, publish: bool) -> list[tuple[str, float, float, int]]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("baseline", "generate"):
            out = Path(folder) / f"{mode}.csv"
            seconds, peak, _ = _measure([sys.executable, "-m", "devkit.bench_cards", mode, str(count), str(out)])
            results.append((mode, seconds, peak, sum(1 for _ in out.open()) - 1))
    if publish:
        results.append(("command", *_run_command(count)))
    return results


def _run_command(count: int) -> tuple[float, float, int]:
    from devkit.scratch import delete_topics_with_prefix
    from devkit.worker_process import settings_env
    from pipeline.reference.publish import apply_files
    from pipeline.settings import Settings

    settings = Settings(topic_prefix=f"bench-cards-{uuid.uuid4().hex[:6]}-")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([TARIFF, GROUP], f)
    try:
        asyncio.run(apply_files(settings, [f.name]))
        seconds, peak, lines = _measure([sys.executable, "-m", "pipeline", "cards", "generate", GROUP["id"],
                                         "--count", str(count), "--sold"], {**os.environ, **settings_env(settings)})
        return seconds, peak, lines - 1
    finally:
        os.unlink(f.name)
        asyncio.run(delete_topics_with_prefix(settings))


@click.command("bench-cards", help="`cards generate --count N`: time and peak memory beside writing N CSV rows alone.")
@click.option("--count", default=100_000, show_default=True, type=click.IntRange(min=1))
@click.option("--publish/--no-publish", default=True, show_default=True,
              help="also run the real command on the local broker (scratch topics, deleted after)")
def bench_cards(count: int, publish: bool) -> None:
    results = run(count, publish)
    click.echo(f"{'what':<10} {'rows':>9} {'seconds':>9} {'rows/s':>10} {'peak MiB':>9}")
    for mode, seconds, peak, rows in results:
        click.echo(f"{mode:<10} {rows:>9} {seconds:>9.2f} {rows / seconds:>10.0f} {peak:>9.1f}")
    base = results[0]
    for mode, seconds, peak, _ in results[1:]:
        click.echo(f"{mode}: {seconds / base[1]:.0f}x the baseline's time, +{peak - base[2]:.1f} MiB")


if __name__ == "__main__":  # the children: python -m devkit.bench_cards baseline|generate COUNT FILE
    {"baseline": _baseline, "generate": _generate}[sys.argv[1]](int(sys.argv[2]), Path(sys.argv[3]))
