"""Each domain's tables.yaml (its stored tables as data, read by lib/schema.py load_tables) is what its
schemas.py names: every table of the file under a Python name, and no other table."""

from __future__ import annotations

from pathlib import Path

import pytest

from finance_assets.defs.market import schemas as market
from finance_assets.defs.news import schemas as news
from finance_assets.defs.portfolio import schemas as portfolio
from finance_assets.defs.sec import schemas as sec
from finance_assets.lib.schema import TableSchema, load_tables


@pytest.mark.parametrize("module", [market, news, portfolio, sec], ids=lambda m: m.__name__.split(".")[-2])
def test_every_table_of_the_file_has_its_python_name(module):
    declared = load_tables(Path(module.__file__).with_name("tables.yaml"))
    named = {value.name: value for key, value in vars(module).items() if isinstance(value, TableSchema)}
    assert named == declared.tables
    assert all(key.isupper() for key, value in vars(module).items() if isinstance(value, TableSchema))
