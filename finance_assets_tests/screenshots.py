"""Full-page screenshots of an HTML report for the docs (`make screenshots`).

    python -m finance_assets_tests.screenshots REPORT.html OUT_DIR

Writes OUT_DIR/report-1280.png (desktop) and OUT_DIR/report-390.png (phone), each the whole page, in
the headless Chromium the browser test drives (test_report_browser.Browser, over the DevTools
protocol). Each PNG is written as an 8-bit palette image when Pillow is installed, to keep the
committed files small.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

from finance_assets_tests.defs.portfolio.test_report_browser import CHROMIUM, Browser

# (file name, viewport width, phone emulation)
VIEWPORTS = (("report-1280.png", 1280, False), ("report-390.png", 390, True))
# Plotly draws its charts after the load event; wait until every chart has its SVG.
CHARTS_DRAWN = """new Promise((resolve) => {
  const ready = () => [...document.querySelectorAll("figure.chart")].every((f) => f.querySelector(".main-svg"));
  const poll = () => (ready() ? resolve(true) : setTimeout(poll, 100));
  poll();
})"""


def _small_png(png: bytes) -> bytes:
    try:
        from PIL import Image
    except ImportError:  # Pillow is optional: keep Chromium's PNG
        return png
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue() if len(out.getvalue()) < len(png) else png


def capture(report: Path, out_dir: Path) -> list[Path]:
    if CHROMIUM is None:
        raise SystemExit("headless Chromium not found (apt-get install chromium)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        browser = Browser(Path(profile))
        try:
            for name, width, mobile in VIEWPORTS:
                browser.viewport(width, mobile=mobile)
                browser.open(report.resolve().as_uri())
                browser.evaluate(CHARTS_DRAWN)
                path = out_dir / name
                shot = browser.screenshot(path)
                path.write_bytes(_small_png(shot))
                written.append(path)
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"error: {args.report} does not exist", file=sys.stderr)
        return 2
    for path in capture(args.report, args.out_dir):
        print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
