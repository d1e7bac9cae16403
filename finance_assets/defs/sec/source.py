"""SEC EDGAR as a Dagster resource: live endpoints, headers and limits; the demo answers offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pandas as pd

from finance_assets.defs.sec.bulk_download import Download, DownloadingHttpClient
from finance_assets.defs.sec.edgar_bulk import BulkArchive, check_archive
from finance_assets.lib.http import HttpClient, HttpStatusError
from finance_assets.lib.sources import DEMO_USER_AGENT, HttpSource, SourceConfigError, json_object

SEC_WWW = "https://www.sec.gov"
SEC_DATA = "https://data.sec.gov"
SEC_BULK_PATHS = {
    "companyfacts": "/Archives/edgar/daily-index/xbrl/companyfacts.zip",
    "submissions": "/Archives/edgar/daily-index/bulkdata/submissions.zip",
}


class SecEdgarSource(HttpSource):
    """SEC EDGAR: company tickers, submissions (with older pages), XBRL companyfacts, the latest
    filings feed, and the nightly bulk archives.

    Live mode requires `user_agent` ("Example Corp admin@example.com", from SEC_USER_AGENT): SEC
    blocks undeclared clients with 403. Requests share the machine-wide 10/s SEC limit.

    A run that covers more than `bulk_min_tickers` tickers reads `companyfacts.zip` /
    `submissions.zip` (one download each, kept under the cache dir and revalidated with ETag /
    Last-Modified) instead of two or more requests per company; 0 turns the bulk path off.
    """

    user_agent: str = ""
    bulk_min_tickers: int = 200
    client_class: ClassVar[type[HttpClient]] = DownloadingHttpClient

    def _user_agent(self) -> str:
        if self.mode != "live":
            return DEMO_USER_AGENT
        agent = self.user_agent.strip()
        if not agent or "@" not in agent:
            raise SourceConfigError(
                "Live SEC access needs SEC_USER_AGENT set to a name and contact e-mail, e.g. "
                "'Example Corp admin@example.com' (SEC's fair-access rule; undeclared clients get 403)."
            )
        return agent

    def _secrets(self) -> list[str]:
        return [self.user_agent] if self.user_agent else []

    def company_tickers(self) -> dict:
        try:
            return json_object(
                self.client.get(f"{SEC_WWW}/files/company_tickers_exchange.json", source="sec"),
                "SEC company_tickers_exchange.json",
            )
        except HttpStatusError:
            return json_object(
                self.client.get(f"{SEC_WWW}/files/company_tickers.json", source="sec"), "SEC company_tickers.json"
            )

    def latest_filings_atom(self, form: str = "", start: int = 0) -> bytes:
        """One page of EDGAR's 'Latest Filings' Atom feed: 100 entries from `start` (0 = newest);
        `form` filters, e.g. 10-K."""
        if not isinstance(start, int) or start < 0:
            raise ValueError(f"start must be a non-negative int, got {start!r}")
        params = {
            "action": "getcurrent",
            "type": form,
            "company": "",
            "dateb": "",
            "owner": "include",
            "start": str(start),
            "count": "100",
            "output": "atom",
        }
        return self.client.get(f"{SEC_WWW}/cgi-bin/browse-edgar", source="sec", params=params, use_cache=False).content

    def submissions(self, cik: int) -> dict:
        return json_object(
            self.client.get(f"{SEC_DATA}/submissions/CIK{cik:010d}.json", source="sec"),
            f"SEC submissions CIK{cik:010d}.json",
        )

    def submissions_page(self, name: str) -> dict:
        if "/" in name or not name.endswith(".json"):
            raise ValueError(f"unexpected submissions page name {name!r}")
        return json_object(self.client.get(f"{SEC_DATA}/submissions/{name}", source="sec"), f"SEC submissions {name}")

    def companyfacts(self, cik: int) -> dict | None:
        """None when the company has no XBRL facts (EDGAR answers 404)."""
        try:
            response = self.client.get(f"{SEC_DATA}/api/xbrl/companyfacts/CIK{cik:010d}.json", source="sec")
        except HttpStatusError as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            raise
        return json_object(response, f"SEC companyfacts CIK{cik:010d}.json")

    def uses_bulk(self, ticker_count: int) -> bool:
        """Whether a run over `ticker_count` tickers should read the bulk archives."""
        return self.bulk_min_tickers > 0 and ticker_count > self.bulk_min_tickers

    def bulk_archive_path(self, kind: str) -> Path:
        if kind not in SEC_BULK_PATHS:
            raise ValueError(f"bulk archive must be one of {sorted(SEC_BULK_PATHS)}, got {kind!r}")
        return Path(self.cache_dir) / "sec-bulk" / f"{kind}.zip"

    def download_bulk_archive(self, kind: str) -> Download:
        """Fetch `companyfacts.zip` or `submissions.zip` into the cache dir, unless the copy there is
        still current (one conditional request, answered 304)."""
        client = self.client
        if not isinstance(client, DownloadingHttpClient):
            raise SourceConfigError("bulk archives need the DownloadingHttpClient")
        return client.download(
            f"{SEC_WWW}{SEC_BULK_PATHS[kind]}", self.bulk_archive_path(kind), source="sec", verify=check_archive
        )

    def bulk_archive(self, kind: str, ciks: Sequence[int]) -> tuple[BulkArchive, Download]:
        """The current bulk archive, indexed for `ciks` only (see analytics.edgar_bulk)."""
        download = self.download_bulk_archive(kind)
        return BulkArchive(download.path, ciks), download

    def as_of_date(self) -> dt.date:
        """Today in New York, or the pinned demo day: the date a ticker map snapshot is 'seen on'."""
        stamp = pd.Timestamp(self.demo_now) if (self.mode == "demo" and self.demo_now) else pd.Timestamp.now("UTC")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        return stamp.tz_convert("America/New_York").date()
