"""Deck import benchmark: a 1,000,000-line deck read by each layout, beside the contract CSV reader.

`python -m pipeline bench-decks [--lines N]`. The same rates are written four ways: the contract's
CSV (read by pipeline/reference/csv_rates.load_rates_csv, the baseline, and by the generic layout),
a carrier's A-Z deck (Destination, Dial Code with "+", Rate (USD), Connect Fee, Billing Increment
"30/6", Effective Date), an ASTPP import (Initial Increment / Increment, some making tiers) and a
CGRateS plan whose rates have two GroupIntervalStart rows. Each phase prints as it starts and ends.
CPU seconds are the figure to compare (wall seconds on a shared machine include other processes).
"""
from __future__ import annotations

import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from devkit import bench_data
from pipeline.reference.csv_rates import load_rates_csv
from pipeline.reference.decks import read_deck

BILLING = ("1/1", "1/1", "60/60", "30/6", "45/30")  # the last makes tiers (45 is no whole number of 30)


def run(lines: int = 1_000_000, out: TextIO = sys.stdout) -> dict[str, float]:
    def say(text: str) -> None:
        print(text, file=out, flush=True)

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = _write_decks(Path(folder), lines, say)
        readers: list[tuple[str, str, Callable[[], int]]] = [
            ("contract CSV, load_rates_csv (baseline)", "baseline", lambda: len(load_rates_csv(paths["contract"]))),
            ("contract CSV, generic layout", "generic_contract", lambda: _deck([paths["contract"]], "generic")),
            ("carrier A-Z deck, generic layout", "generic_carrier", lambda: _deck([paths["carrier"]], "generic")),
            ("ASTPP import, astpp layout", "astpp", lambda: _deck([paths["astpp"]], "astpp")),
            ("CGRateS plan (2 tiers a rate), cgrates layout", "cgrates", lambda: _deck(paths["cgrates"], "cgrates")),
        ]
        for title, key, read in readers:
            say(f"reading: {title} ...")
            gc.collect()
            started, cpu_started = time.perf_counter(), time.process_time()
            count = read()
            figures[f"{key}_s"] = time.perf_counter() - started
            figures[f"{key}_cpu_s"] = time.process_time() - cpu_started
            figures[f"{key}_rates"] = count
            say(f"  {count:,} rates in {figures[f'{key}_s']:.1f} s ({figures[f'{key}_cpu_s']:.1f} s of CPU)")
    _print_table(figures, lines, say)
    return figures


def _deck(paths: list[Path], layout: str) -> int:
    return len(read_deck([(path.name, path.read_bytes()) for path in paths], layout).rates)


def _write_decks(folder: Path, lines: int, say: Callable[[str], None]) -> dict:
    say(f"making {lines:,} prefixes ...")
    prefixes = bench_data.make_prefixes(lines)
    rng = random.Random(5)
    rates = [str(rng.choice(range(5, 9000)) / 10_000) for _ in range(400)]  # 400 price points
    paths = {"contract": folder / "contract.csv", "carrier": folder / "carrier.csv", "astpp": folder / "astpp.csv",
             "cgrates": [folder / "Destinations.csv", folder / "Rates.csv", folder / "DestinationRates.csv"]}
    handles = {name: open(path, "w", encoding="utf-8") for name, path in paths.items() if name != "cgrates"}
    destinations, rate_file, destination_rates = (open(path, "w", encoding="utf-8") for path in paths["cgrates"])
    handles["contract"].write("prefix,rate,connection_fee,increment,min_time,effective_from\n")
    handles["carrier"].write("Destination,Dial Code,Rate (USD),Connect Fee,Billing Increment,Effective Date\n")
    handles["astpp"].write("Code,Destination,Connection Cost (USD),Grace Time,Cost / Min (USD),Initial Increment,"
                           "Increment\n")
    destinations.write("#Id,Prefix\n")
    rate_file.write("#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n")
    for index, rate in enumerate(rates):
        rate_file.write(f"RT_{index},0.01,{rate},60s,60s,0s\nRT_{index},0,{rate},60s,1s,60s\n")
    destination_rates.write("#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n")
    started = time.perf_counter()
    for number, prefix in enumerate(prefixes, start=1):
        point = rng.randrange(len(rates))
        rate, billing = rates[point], rng.choice(BILLING)
        first, then = billing.split("/")
        handles["contract"].write(f"{prefix},{rate},0.01,{then},{first if first != then else 0},2026-01-01T00:00:00Z\n")
        handles["carrier"].write(f"Zone {prefix[:3]},+{prefix},{rate},0.01,{billing},2026-01-01\n")
        handles["astpp"].write(f"{prefix},Zone {prefix[:3]},0.01,0,{rate},{first},{then}\n")
        destinations.write(f"DST_{prefix},{prefix}\n")
        destination_rates.write(f"DR_1,DST_{prefix},RT_{point},*up,4,0,\n")
        if number % 250_000 == 0:
            say(f"  written {number:,} lines of each deck ({time.perf_counter() - started:.0f} s)")
    for handle in (*handles.values(), destinations, rate_file, destination_rates):
        handle.close()
    return paths


def _print_table(figures: dict, lines: int, say: Callable[[str], None]) -> None:
    baseline = figures["baseline_cpu_s"]
    rows = [("reader", "lines", "CPU s", "wall s", "lines/CPU s", "CPU vs baseline")]
    for title, key in (("contract CSV, load_rates_csv", "baseline"), ("contract CSV, generic layout", "generic_contract"),
                       ("carrier A-Z deck, generic", "generic_carrier"), ("ASTPP import, astpp", "astpp"),
                       ("CGRateS plan, cgrates", "cgrates")):
        seconds = figures[f"{key}_cpu_s"]
        rows.append((title, f"{lines:,}", f"{seconds:.1f}", f"{figures[f'{key}_s']:.1f}", f"{lines / seconds:,.0f}",
                     f"x{seconds / baseline:.2f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(6)]
    for row in (rows[0], tuple("-" * width for width in widths), *rows[1:]):
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
