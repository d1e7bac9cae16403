"""Peak-memory measurement in a fresh process, shared by the bounded-memory test and benchmark."""

from __future__ import annotations

# Streams a document (a file, or "archive.zip::member") chunk by chunk into a Parquet file, as a
# consumer that keeps memory bounded would, and prints rows and peak RSS growth in MB.
PEAK_RSS_KB = r'''
def peak_rss_kb():
    """This process's peak RSS (Linux VmHWM; reset by exec, unlike ru_maxrss)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
'''
MEASURE = (
    PEAK_RSS_KB
    + r"""
import json, sys, zipfile
import pyarrow as pa, pyarrow.parquet as pq
from finance_assets.defs.sec.xbrl_stream import iter_companyfacts_chunks

source, out, chunk_facts = sys.argv[1], sys.argv[2], int(sys.argv[3])
before = peak_rss_kb()
if "::" in source:
    archive, member = source.split("::")
    stream = zipfile.ZipFile(archive).open(member)
else:
    stream = open(source, "rb")
rows, writer = 0, None
with stream:
    for chunk in iter_companyfacts_chunks(stream, chunk_facts):
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        writer = writer or pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
        rows += len(chunk)
writer.close()
growth_mb = (peak_rss_kb() - before) / 1024
print(json.dumps({"rows": rows, "growth_mb": growth_mb}))
"""
)
