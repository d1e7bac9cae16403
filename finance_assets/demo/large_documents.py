"""Large synthetic companyfacts documents of a fictional company, for memory tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path


def write_companyfacts(path: Path, target_bytes: int, facts_per_unit: int = 400) -> int:
    """A synthetic companyfacts document of about `target_bytes`, written incrementally; returns its fact count."""
    with open(path, "w") as out:
        out.write('{"cik": 9900001, "entityName": "Acme Quantum Systems (DEMO)", "facts": {"dei": {}, "us-gaap": {')
        written = concept = 0
        while written < target_bytes:
            facts = ",".join(
                json.dumps(
                    {
                        "start": f"{2009 + i % 16}-01-01",
                        "end": f"{2009 + i % 16}-12-31",
                        "val": 1000 * concept + i,
                        "accn": f"0009900001-{(9 + i % 16):02d}-{i:06d}",
                        "fy": 2009 + i % 16,
                        "fp": "FY",
                        "form": "10-K",
                        "filed": f"{2010 + i % 16}-02-15",
                        "frame": f"CY{2009 + i % 16}",
                    },
                    separators=(",", ":"),
                )
                for i in range(facts_per_unit)
            )
            body = (
                f'{"," if concept else ""}"Concept{concept:05d}": {{"label": "Concept {concept} (DEMO)", '
                f'"units": {{"USD": [{facts}]}}}}'
            )
            out.write(body)
            written += len(body)
            concept += 1
        out.write("}}}")
    return concept * facts_per_unit
