"""corporate_actions: the providers' split and dividend events as a table, with a data version that
changes exactly when an action appears (what automation's prices condition reacts to)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from finance_assets.defs.market import assets as market
from finance_assets.defs.market import corporate_actions as ca
from finance_assets.defs.market.source import PriceSource
from finance_assets.lib.io_manager import ParquetWarehouseIOManager
from finance_assets.lib.partitions import TICKER


def _resources(root, as_of: str) -> dict:
    return {
        "io_manager": ParquetWarehouseIOManager(base_path=str(root / "wh"), as_of=as_of),
        "prices_source": PriceSource(mode="demo", cache_dir=str(root / "c"), state_dir=str(root / "s"), as_of=as_of),
    }


def _versions(instance, ticker_keys) -> dict[str, str]:
    out = {}
    for key in ticker_keys:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("corporate_actions"), asset_partitions=[key]), limit=1
        ).records
        out[key] = records[0].asset_materialization.tags["dagster/data_version"]
    return out


def test_actions_from_the_sources_event_fields(tmp_path):
    source = PriceSource(mode="demo", cache_dir=str(tmp_path / "c"), state_dir=str(tmp_path / "s"), as_of="2026-05-04")
    hvqx = source.corporate_actions("HVQX", dt.date(2026, 1, 1))
    assert hvqx[["kind", "ratio"]].values.tolist() == [["reverse_split", 0.25]]
    assert hvqx["ex_date"].iloc[0] == pd.Timestamp("2026-04-06")
    assert hvqx["known_at"].iloc[0] == pd.Timestamp("2026-04-06 09:30", tz="America/New_York")
    assert hvqx["source"].iloc[0] == "yahoo (demo)"
    crxq = source.corporate_actions("CRXQ", dt.date(2026, 1, 1))
    assert crxq["kind"].tolist() == ["cash_dividend", "cash_dividend"]
    assert crxq["ex_date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-02-02", "2026-05-01"]
    assert (crxq["amount"] > 0).all() and crxq["ratio"].isna().all()
    elqx = source.corporate_actions("ELQX", dt.date(2026, 1, 1))
    assert elqx[["kind", "ratio"]].values.tolist() == [["split", 3.0]]


def test_split_factor_turns_split_adjusted_into_as_traded():
    actions = ca.normalized(
        pd.DataFrame(
            {
                "ticker": ["X", "X"],
                "ex_date": ["2026-03-16", "2026-04-06"],
                "kind": ["split", "reverse_split"],
                "ratio": [3.0, 0.25],
                "amount": [np.nan, np.nan],
                "source": ["t", "t"],
                "known_at": ["2026-03-16T13:30Z", "2026-04-06T13:30Z"],
            }
        )
    )
    dates = pd.Series(pd.to_datetime(["2026-03-13", "2026-03-16", "2026-04-03", "2026-04-06"]))
    assert ca.split_factor_after(dates, actions).tolist() == [0.75, 0.25, 0.25, 1.0]


def test_data_version_changes_only_when_an_action_appears(tmp_path):
    keys = ["ACMQ", "ELQX"]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TICKER, keys)
        versions = []
        for as_of in ("2026-03-12T18:00", "2026-03-13T18:00", "2026-03-16T18:00"):
            for key in keys:
                result = dg.materialize(
                    [market.corporate_actions],
                    instance=instance,
                    resources=_resources(tmp_path, as_of),
                    partition_key=key,
                )
                assert result.success
            versions.append(_versions(instance, keys))
        # a range run carries one version for all its tickers: one that changes when any of them does
        tags = {ASSET_PARTITION_RANGE_START_TAG: "ACMQ", ASSET_PARTITION_RANGE_END_TAG: "ELQX"}
        for as_of in ("2026-03-13T18:00", "2026-03-16T18:00"):
            result = dg.materialize(
                [market.corporate_actions], instance=instance, resources=_resources(tmp_path, as_of), tags=tags
            )
            assert result.success
            versions.append(_versions(instance, keys))
    assert versions[3]["ACMQ"] == versions[3]["ELQX"] != versions[4]["ACMQ"] == versions[4]["ELQX"]
    assert versions[0] == versions[1]  # nothing new: same versions, automation re-fetches nothing
    assert versions[2]["ACMQ"] == versions[1]["ACMQ"]
    assert versions[2]["ELQX"] != versions[1]["ELQX"]  # ELQX's 3:1 split went ex on the 16th
