"""`make bench`: run every benchmarks/bench_*.py, print one table of side-by-side ratios, save JSON.

Each module exposes run() -> list[dict] with keys benchmark, metric, ours, reference, unit, ratio,
goal, met. Results go to benchmarks/results/latest.json with the date and machine.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The benchmarks' workloads address months since 2016 (the live default; demo mode's own default starts
# 2025-01). Set before any benchmark imports the package: partitions are defined at import.
os.environ.setdefault("FINANCE_ASSETS_HISTORY_START", "2016-01-01")


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(latest: dict) -> str:
    """latest.json as the README's table (`python -m benchmarks.run --markdown`): what was measured, as is."""
    machine = latest["machine"]
    lines = [
        f"Measured {latest['date'][:10]} on {machine['cpus']} cores, {machine['platform']}, Python "
        f"{machine['python']}.",
        "",
        "| benchmark | metric | ours | reference | unit | ratio | goal | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in latest["rows"]:
        cells = [_fmt(row.get(k)) for k in ("benchmark", "metric", "ours", "reference", "unit", "ratio", "goal", "met")]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv and argv[0] == "--markdown":
        print(markdown(json.loads((HERE / "results" / "latest.json").read_text())))
        return 0
    names = argv if argv else sorted(p.stem for p in HERE.glob("bench_*.py"))
    rows, errors = [], []
    for name in names:
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            for row in module.run():
                rows.append(row)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            errors.append(name)
            traceback.print_exc()
        print(f"# {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    header = ["benchmark", "metric", "ours", "reference", "unit", "ratio", "goal", "met"]
    table = [[_fmt(r.get(k)) for k in header] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(header)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for row in table:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "rows": rows,
        "errors": errors,
    }
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwritten: {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
