"""S3-compatible object storage for the warehouse (docs/object-storage.md), through fsspec's s3fs.

What the warehouse needs from a bucket, and how each need is met:

- **Atomic replacement.** One PUT is atomic on S3: a reader sees the old object or the new one, never
  part of either. Bodies above `multipart_threshold` go up as a multipart upload, which is not
  visible until CompleteMultipartUpload: a writer killed between parts leaves the previous object
  (the orphaned upload is invisible to readers; `abort_incomplete_uploads` or a bucket lifecycle
  rule deletes its parts).
- **No lost write.** Two runs that rewrite the same file (a month and ticker shard, a year of report
  days) read it with its ETag and write it
  back with `If-Match: <etag>` (`If-None-Match: *` when it did not exist): the second writer gets
  412 Precondition Failed (`WriteConflict`), re-reads and merges again. S3 has honoured both
  conditions on PutObject since 2024 (MinIO, moto's server and Ceph RGW too); they are the
  object-store counterpart of the local folder's per-file lock.
- **Reads without an extension download.** DuckDB's httpfs extension is not in the duckdb wheel and
  cannot be fetched offline, so queries read objects through fsspec: `download` fetches many objects
  concurrently, and `register` hands the filesystem to a DuckDB connection so that its views can
  `read_parquet('s3://...')` lazily.

Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile,
an instance role), read by botocore itself: they never pass through settings, logs or metadata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEME = "s3://"
MIB = 1024 * 1024
# S3's smallest part is 5 MiB (all but the last); a single PUT takes up to 5 GiB. A month of a ticker shard
# (~375 tickers at 6,000) is a few MiB at most, so multipart only serves unusually large unpartitioned tables.
DEFAULT_MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_PART_SIZE = 16 * MIB
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}


class WriteConflict(Exception):
    """Another writer changed (or created) the object since it was read: read, merge and try again."""


def is_object_store_url(root: object) -> bool:
    return isinstance(root, str) and root.startswith(SCHEME)


def split_url(url: str) -> tuple[str, str]:
    """('bucket', 'prefix/without/slashes') of s3://bucket/prefix/."""
    parts = urlsplit(url)
    if f"{parts.scheme}://" != SCHEME or not parts.netloc:
        raise ValueError(f"not an s3:// URL: {url!r}")
    return parts.netloc, parts.path.strip("/")


def _client_error(exc: BaseException) -> dict | None:
    """The S3 error response behind an s3fs exception (s3fs keeps botocore's ClientError as the cause)."""
    seen = 0
    while exc is not None and seen < 5:
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and "Error" in response:
            return response
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def is_conflict(exc: BaseException) -> bool:
    response = _client_error(exc)
    if response is None:
        return False
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return response["Error"].get("Code") in _CONFLICT_CODES or status in (409, 412)


@dataclass
class Versioned:
    """An object's bytes and the ETag they were read with (None, None: no such object)."""

    data: bytes | None
    etag: str | None


class ObjectStore:
    """Keys under one s3://bucket/prefix, relative to it ('prices/month=2025-03/shard=07/data.parquet')."""

    def __init__(
        self,
        url: str,
        endpoint_url: str = "",
        region: str = "",
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
    ):
        self.bucket, self.prefix = split_url(url)
        self.url = SCHEME + self.bucket + (f"/{self.prefix}" if self.prefix else "")
        self.endpoint_url = endpoint_url
        self.region = region
        self.multipart_threshold = max(multipart_threshold, 5 * MIB)
        self.part_size = max(part_size, 5 * MIB)
        self._fs = None

    def __repr__(self) -> str:  # the URL and endpoint hold no credentials (config.parse_warehouse_url)
        return f"ObjectStore({self.url!r}, endpoint_url={self.endpoint_url!r})"

    @property
    def fs(self):
        """The s3fs filesystem (one per process and thread, shared through fsspec's instance cache)."""
        if self._fs is None:
            import s3fs

            client_kwargs = {"region_name": self.region} if self.region else {}
            self._fs = s3fs.S3FileSystem(
                endpoint_url=self.endpoint_url or None,
                client_kwargs=client_kwargs,
                use_listings_cache=False,  # another process may have added a file a moment ago
            )
        return self._fs

    # paths -----------------------------------------------------------------------------------
    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def path(self, rel: str) -> str:
        """bucket/prefix/rel: the form fsspec methods take."""
        return f"{self.bucket}/{self.key(rel)}"

    def url_of(self, rel: str) -> str:
        return SCHEME + self.path(rel)

    def rel_of(self, path: str) -> str:
        """The relative key of a 'bucket/prefix/...' or 's3://bucket/prefix/...' path."""
        path = path.removeprefix(SCHEME)
        head = f"{self.bucket}/{self.prefix}/" if self.prefix else f"{self.bucket}/"
        if not path.startswith(head):
            raise ValueError(f"{path!r} is not under {self.url}")
        return path[len(head) :]

    # calls -----------------------------------------------------------------------------------
    def _call(self, method: str, **kwargs):
        return self.fs.call_s3(method, Bucket=self.bucket, **kwargs)

    def get(self, rel: str) -> Versioned:
        """The object's bytes with the ETag of exactly those bytes (one GET), or Versioned(None, None)."""
        from fsspec.asyn import sync

        async def _get():
            response = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key(rel))
            body = response["Body"]
            try:
                return Versioned(await body.read(), response.get("ETag"))
            finally:
                body.close()

        try:
            return sync(self.fs.loop, _get)
        except FileNotFoundError:
            return Versioned(None, None)

    def put(self, rel: str, data: bytes, *, if_match: str | None = None, if_absent: bool = False) -> str:
        """Store `data` atomically; returns the new ETag. With `if_match` (an ETag) or `if_absent`, raise
        WriteConflict instead of overwriting what another writer stored in the meantime."""
        conditions: dict[str, str] = {}
        if if_match:
            conditions["IfMatch"] = if_match
        elif if_absent:
            conditions["IfNoneMatch"] = "*"
        try:
            if len(data) > self.multipart_threshold:
                return self._put_multipart(rel, data, conditions)
            return self._call("put_object", Key=self.key(rel), Body=data, **conditions).get("ETag", "")
        except Exception as exc:
            if conditions and is_conflict(exc):
                raise WriteConflict(self.url_of(rel)) from exc
            response = _client_error(exc)
            if response is not None and response["Error"].get("Code") == "NoSuchBucket":
                where = f" at {self.endpoint_url}" if self.endpoint_url else ""
                raise FileNotFoundError(
                    f"bucket {self.bucket!r}{where} does not exist: create it, e.g. "
                    "python -m finance_assets.lib.object_store ensure-bucket"
                ) from exc
            raise

    def _put_multipart(self, rel: str, data: bytes, conditions: dict[str, str]) -> str:
        key = self.key(rel)
        upload = self._call("create_multipart_upload", Key=key)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), self.part_size), start=1):
                parts.append(self._upload_part(key, upload, number, data[start : start + self.part_size]))
            # nothing is visible before this call: a writer killed earlier leaves the previous object
            done = self._call(
                "complete_multipart_upload", Key=key, UploadId=upload, MultipartUpload={"Parts": parts}, **conditions
            )
            return done.get("ETag", "")
        except BaseException:
            try:
                self._call("abort_multipart_upload", Key=key, UploadId=upload)
            except Exception:  # noqa: BLE001 - best effort; the lifecycle rule or abort_incomplete_uploads cleans up
                pass
            raise

    def _upload_part(self, key: str, upload: str, number: int, chunk: bytes) -> dict:
        response = self._call("upload_part", Key=key, UploadId=upload, PartNumber=number, Body=chunk)
        return {"PartNumber": number, "ETag": response["ETag"]}

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.path(rel)))

    def delete(self, rel: str) -> None:
        self.fs.rm(self.path(rel))

    def list(self, rel_prefix: str = "", suffix: str = "") -> list[str]:
        """Relative keys under `rel_prefix/` (sorted), optionally only those ending in `suffix`."""
        base = self.path(rel_prefix.strip("/")) if rel_prefix else self.path("").rstrip("/")
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        head = f"{rel_prefix.strip('/')}/" if rel_prefix else ""
        rels = (self.rel_of(p) for p in found if p.endswith(suffix))
        return sorted(r for r in rels if r.startswith(head))  # 'prices' never matches 'prices_x/...'

    def children(self) -> list[str]:
        """The top-level 'folders' (common prefixes) under the root."""
        try:
            entries = self.fs.ls(self.path("").rstrip("/"), detail=True)
        except FileNotFoundError:
            return []
        return sorted(self.rel_of(e["name"]).strip("/") for e in entries if e.get("type") == "directory")

    def download(self, rels: Iterable[str], local_paths: Iterable[str]) -> None:
        """Fetch many objects concurrently into local files."""
        remote = [self.path(r) for r in rels]
        if remote:
            self.fs.get(remote, list(local_paths))

    def register(self, con) -> None:
        """Let a DuckDB connection read s3:// paths through this filesystem (no httpfs needed)."""
        con.register_filesystem(self.fs)

    # maintenance -----------------------------------------------------------------------------
    def ensure_bucket(self) -> bool:
        """Create the bucket if it does not exist (demo and test servers); True if it was created."""
        try:
            self._call("head_bucket")
            return False
        except Exception as exc:  # noqa: BLE001 - 404/NoSuchBucket, reported through s3fs
            response = _client_error(exc)
            missing = isinstance(exc, FileNotFoundError) or (
                response is not None and response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
            )
            if not missing:
                raise
        kwargs = {}
        if self.region and self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self._call("create_bucket", **kwargs)
        return True

    def incomplete_uploads(self) -> list[dict]:
        response = self._call("list_multipart_uploads", Prefix=self.key(""))
        return list(response.get("Uploads", []))

    def abort_incomplete_uploads(self, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
        """Delete the parts of multipart uploads started before `older_than` ago and never completed
        (writers that were killed); returns how many. A lifecycle rule
        (AbortIncompleteMultipartUpload) does the same on AWS."""
        cutoff = dt.datetime.now(dt.UTC) - older_than
        aborted = 0
        for upload in self.incomplete_uploads():
            started = upload.get("Initiated")
            if isinstance(started, dt.datetime) and started.astimezone(dt.UTC) > cutoff:
                continue
            self._call("abort_multipart_upload", Key=upload["Key"], UploadId=upload["UploadId"])
            aborted += 1
        return aborted


def store_for(url: str, endpoint_url: str | None = None, region: str | None = None) -> ObjectStore:
    """An ObjectStore for `url`; endpoint and region default to this process's settings
    (FINANCE_ASSETS_S3_ENDPOINT_URL, FINANCE_ASSETS_S3_REGION)."""
    if endpoint_url is None or region is None:
        from finance_assets.lib import config

        current = config.settings()
        endpoint_url = current.s3_endpoint_url if endpoint_url is None else endpoint_url
        region = current.s3_region if region is None else region
    return ObjectStore(url, endpoint_url=endpoint_url, region=region)


def main(argv: list[str] | None = None) -> int:
    """`python -m finance_assets.lib.object_store ensure-bucket`: create the configured warehouse's bucket
    (the compose demo's S3 server starts empty)."""
    import argparse

    from finance_assets.lib import config

    parser = argparse.ArgumentParser(prog="python -m finance_assets.lib.object_store")
    parser.add_argument("command", choices=["ensure-bucket", "abort-incomplete-uploads"])
    args = parser.parse_args(argv)
    url = config.settings().warehouse_url
    if not url:
        print("FINANCE_ASSETS_WAREHOUSE_URL is not set: the warehouse is a local folder")
        return 2
    store = store_for(url)
    if args.command == "ensure-bucket":
        created = store.ensure_bucket()
        print(f"bucket {store.bucket}: {'created' if created else 'exists'}")
    else:
        print(f"aborted {store.abort_incomplete_uploads()} incomplete upload(s) under {store.url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
