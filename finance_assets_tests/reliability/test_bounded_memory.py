"""Large companyfacts documents stream through normalization in bounded memory, from a plain file and
from a companyfacts.zip member; the streamed rows equal the whole-document normalization.

Peak memory is measured as the growth of the peak RSS of a fresh process (VmHWM after imports vs at
the end), so it covers C allocations (ijson, numpy, Arrow) too. Not ru_maxrss: Linux carries it over
from the parent through fork + exec, so under a large pytest or benchmark process it read 0 growth. The 50 MB figure, side by side
with json.loads + normalize, is in benchmarks/bench_xbrl_stream.py.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from benchmarks._memory import MEASURE
from finance_assets.defs.sec import xbrl
from finance_assets.defs.sec.xbrl_stream import iter_companyfacts_chunks, normalize_companyfacts_stream
from finance_assets.demo import source as demo
from finance_assets.demo.large_documents import write_companyfacts
from finance_assets_tests.conftest import REPO


def _stream_in_fresh_process(source: str, out: Path, chunk_facts: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, source, str(out), str(chunk_facts)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_companyfacts_stream_memory_stays_flat_as_the_document_grows(tmp_path):
    small, large = tmp_path / "small.json", tmp_path / "CIK0009900001.json"
    small_facts = write_companyfacts(small, 6_000_000)
    large_facts = write_companyfacts(large, 24_000_000)
    archive = tmp_path / "companyfacts.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(large, large.name)
    large.unlink()  # the large document now exists only as a compressed archive member

    from_file = _stream_in_fresh_process(str(small), tmp_path / "small.parquet", 5_000)
    from_member = _stream_in_fresh_process(f"{archive}::{large.name}", tmp_path / "large.parquet", 5_000)

    assert from_file["rows"] == small_facts and from_member["rows"] == large_facts
    assert pd.read_parquet(tmp_path / "large.parquet")["value"].notna().sum() == large_facts
    # 4x the document, about the same peak: memory follows the chunk size, not the document
    assert from_member["growth_mb"] < from_file["growth_mb"] + 15, (from_file, from_member)
    # json.loads alone of a 24 MB document takes ~200 MB (see the benchmark); streaming stays far below
    assert from_member["growth_mb"] < 80, from_member


def _demo_facts_bytes() -> bytes:
    return json.dumps(demo.companyfacts_json(9900001, pd.Timestamp("2025-06-30").date())).encode()


@pytest.mark.parametrize("chunk_facts", [1, 37, 100_000])
def test_streamed_rows_equal_the_whole_document_normalization(chunk_facts):
    raw = _demo_facts_bytes()
    pd.testing.assert_frame_equal(
        normalize_companyfacts_stream(io.BytesIO(raw), chunk_facts), xbrl.normalize_companyfacts(raw)
    )


@pytest.mark.realdata
def test_streamed_rows_equal_on_real_companyfacts(realdata):
    for path in sorted((realdata / "sec" / "companyfacts").glob("*.json")):
        raw = path.read_bytes()
        pd.testing.assert_frame_equal(
            normalize_companyfacts_stream(io.BytesIO(raw), 10_000), xbrl.normalize_companyfacts(raw), obj=path.name
        )


def _with(change) -> bytes:
    doc = json.loads(_demo_facts_bytes())
    change(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "raw",
    [
        _with(lambda d: d["facts"]["us-gaap"]["Revenues"]["units"]["USD"][0].update(val="12")),
        _with(lambda d: d["facts"]["us-gaap"]["Assets"]["units"]["USD"][1].update(end="2025-02-30")),
        _with(lambda d: d["facts"]["us-gaap"].update(Revenues={"units": [1]})),
        _with(lambda d: d["facts"].update({"us-gaap": [1, 2]})),
        _with(lambda d: d.update(facts=[])),
        _with(lambda d: d.update(cik="not-a-cik")),
        b'{"cik": 9900001, "facts": {"us-gaap": {"Revenues": {"units": {"USD": [{"val": 1',
        b"[1, 2, 3]",
    ],
)
def test_bad_documents_raise_value_errors_like_the_whole_document_code(raw):
    with pytest.raises(ValueError) as whole:
        xbrl.normalize_companyfacts(raw)
    with pytest.raises(ValueError) as streamed:
        normalize_companyfacts_stream(io.BytesIO(raw), 50)
    assert str(streamed.value).split(":")[0] == str(whole.value).split(":")[0]


def test_chunks_are_bounded_and_never_split_a_concept():
    raw = _demo_facts_bytes()
    chunks = list(iter_companyfacts_chunks(io.BytesIO(raw), 200))
    largest_concept = xbrl.normalize_companyfacts(raw).groupby(["taxonomy", "concept"]).size().max()
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(chunk) < 200 + largest_concept
    concepts = [set(zip(c["taxonomy"], c["concept"])) for c in chunks]
    for i, earlier in enumerate(concepts):
        for later in concepts[i + 1 :]:
            assert not earlier & later
