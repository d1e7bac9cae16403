"""SEC EDGAR as a Dagster resource: live endpoints, headers and limits; the demo answers offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from finance_assets.defs.sec.bulk_download import Download, DownloadingHttpClient
from finance_assets.defs.sec.document_store import archive_path, checked_accession, parse_filing_index
from finance_assets.defs.sec.edgar_bulk import BulkArchive, check_archive
from finance_assets.defs.sec.xbrl import loads_companyfacts
from finance_assets.lib import config
from finance_assets.lib.http import HttpClient, HttpStatusError
from finance_assets.lib.sources import DEMO_USER_AGENT, HttpSource, SourceConfigError, SourceFormatError, json_object

SEC_WWW = config.DEFAULT_SEC_WWW
SEC_DATA = config.DEFAULT_SEC_DATA
SEC_BULK_PATHS = {
    "companyfacts": "/Archives/edgar/daily-index/xbrl/companyfacts.zip",
    "submissions": "/Archives/edgar/daily-index/bulkdata/submissions.zip",
}


def _checked_url(value: str, field: str) -> str:
    """A resource field set directly (not through Settings) is checked by the same rule."""
    try:
        return config.parse_base_url(value, field)
    except config.SettingsError as exc:
        raise SourceConfigError(str(exc)) from None


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
    www_url: str = SEC_WWW  # FINANCE_ASSETS_SEC_WWW: www.sec.gov (tickers, feeds, archives, documents)
    data_url: str = SEC_DATA  # FINANCE_ASSETS_SEC_DATA: data.sec.gov (submissions, companyfacts)
    documents_dir: str = ""  # content-addressed filing documents; '' = <data dir>/sec-documents
    prefetch: int = 3  # submissions / companyfacts fetched ahead while one parses (0 = one at a time)
    client_class: ClassVar[type[HttpClient]] = DownloadingHttpClient

    @property
    def www(self) -> str:
        return _checked_url(self.www_url, "www_url")

    @property
    def data(self) -> str:
        return _checked_url(self.data_url, "data_url")

    def _demo_transport(self):
        """The demo answers the configured hosts as if they were EDGAR's (a mirror serves the same paths)."""
        transport = super()._demo_transport()
        transport.aliases = {self.www: SEC_WWW, self.data: SEC_DATA}
        return transport

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
                self.client.get(f"{self.www}/files/company_tickers_exchange.json", source="sec"),
                "SEC company_tickers_exchange.json",
            )
        except HttpStatusError:
            return json_object(
                self.client.get(f"{self.www}/files/company_tickers.json", source="sec"), "SEC company_tickers.json"
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
        return self.client.get(f"{self.www}/cgi-bin/browse-edgar", source="sec", params=params, use_cache=False).content

    def submissions(self, cik: int) -> dict:
        return json_object(
            self.client.get(f"{self.data}/submissions/CIK{cik:010d}.json", source="sec"),
            f"SEC submissions CIK{cik:010d}.json",
        )

    def submissions_page(self, name: str) -> dict:
        if "/" in name or not name.endswith(".json"):
            raise ValueError(f"unexpected submissions page name {name!r}")
        return json_object(self.client.get(f"{self.data}/submissions/{name}", source="sec"), f"SEC submissions {name}")

    def companyfacts(self, cik: int) -> dict | None:
        """None when the company has no XBRL facts (EDGAR answers 404)."""
        try:
            response = self.client.get(f"{self.data}/api/xbrl/companyfacts/CIK{cik:010d}.json", source="sec")
        except HttpStatusError as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            raise
        # decoded concept by concept: a prefetch thread's slot never waits on one long json.loads
        return json_object(response, f"SEC companyfacts CIK{cik:010d}.json", loads=loads_companyfacts)

    def filing_document(self, cik: int, accession: str, name: str) -> bytes:
        """One document of a filing from its archive folder (not kept in the HTTP cache: the
        filing_documents asset stores documents by content)."""
        response = self.client.get(f"{self.www}{archive_path(cik, accession, name)}", source="sec", use_cache=False)
        if not response.content:
            raise SourceFormatError(f"SEC {accession}/{name}: empty document")
        return response.content

    def filing_index_page(self, cik: int, accession: str) -> bytes:
        """The filing's index page, `{accession}-index.htm`, which lists its documents and their types."""
        name = f"{checked_accession(accession)}-index.htm"
        return self.filing_document(cik, accession, name)

    def filing_index(self, cik: int, accession: str) -> list[dict]:
        """[{seq, document, type, description, size}] of the filing's documents."""
        return parse_filing_index(self.filing_index_page(cik, accession), cik, accession)

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
            f"{self.www}{SEC_BULK_PATHS[kind]}", self.bulk_archive_path(kind), source="sec", verify=check_archive
        )

    def bulk_archive(self, kind: str, ciks: Sequence[int]) -> tuple[BulkArchive, Download]:
        """The current bulk archive, indexed for `ciks` only (see analytics.edgar_bulk)."""
        download = self.download_bulk_archive(kind)
        return BulkArchive(download.path, ciks), download

    def as_of_date(self) -> dt.date:
        """Today in New York by the clock (FINANCE_ASSETS_AS_OF, else the machine's): the date a ticker map snapshot is 'seen on'."""
        return self.clock().tz_convert("America/New_York").date()
