"""Example data generation, and the exploration checks on the raw landing files (library and command)."""

from __future__ import annotations

from etl_assets.example.datagen import customer_ids, generate
from etl_assets.example.exploration import profile_landing


def test_same_seed_same_files_and_each_call_appends(tmp_path):
    first = generate(tmp_path / "a", rows=50, seed=3)
    again = generate(tmp_path / "b", rows=50, seed=3)
    assert [f.path.read_text() for f in first] == [f.path.read_text() for f in again]
    second = generate(tmp_path / "a", rows=50, seed=3)
    assert [f.path.name for f in second] == ["part-00001.json", "part-00001.json"]
    assert second[0].path.read_text() != first[0].path.read_text()
    assert len(list((tmp_path / "a" / "customers").iterdir())) == 2


def test_tutorial_columns_probabilities_and_date_format(tmp_path):
    import json
    from datetime import datetime

    (customers, orders) = generate(tmp_path, rows=4000, seed=5)
    rows = [json.loads(x) for x in customers.path.read_text().splitlines() if x.endswith("}")]
    assert set(rows[0]) == {"id", "firstname", "lastname", "email", "address", "operation", "operation_date"}
    share = lambda pred: sum(1 for r in rows if pred(r)) / len(rows)  # noqa: E731
    assert 0.01 < share(lambda r: r["id"] is None) < 0.03
    assert 0.50 < share(lambda r: r["operation"] == "APPEND") < 0.60  # 0.5 of 0.91 of the weight
    assert 0.08 < share(lambda r: r["operation"] == "DELETE") < 0.14
    assert share(lambda r: r["operation"] is None) < 0.03
    datetime.strptime(rows[0]["operation_date"], "%m-%d-%Y %H:%M:%S")
    # Orders name customers of the seed's pool, most of them among the customers written so far.
    ordered = [json.loads(x)["customer_id"] for x in orders.path.read_text().splitlines()]
    assert len(ordered) == 4000 and set(ordered) <= set(customer_ids(5, 4000 // 3))
    assert sum(1 for i in ordered if i in {r["id"] for r in rows}) / len(ordered) > 0.85
    assert customers.malformed > 0


def test_profile_counts_unparseable_and_nulls(tmp_path):
    (customers, _) = generate(tmp_path, rows=1000, seed=8)
    profile = profile_landing(customers.path.parent, "operation")
    assert profile.rows == 1000 and profile.files == 1
    assert profile.unparseable == customers.malformed
    assert profile.nulls["id"] > 0 and set(profile.values) >= {"APPEND", "UPDATE", "DELETE"}


def test_explore_command_passes_on_generated_data_and_fails_on_an_empty_landing(tmp_path, capsys):
    from etl_assets.cli import main

    assert main(["generate-data", "--landing", str(tmp_path / "landing"), "--rows", "300", "--seed", "1"]) == 0
    assert main(["explore", "--landing", str(tmp_path / "landing")]) == 0
    out = capsys.readouterr().out
    assert "ok    customers  row_count         rows=300, files=1" in out
    assert main(["explore", "--landing", str(tmp_path / "nothing")]) == 1
    assert "failed: customers: row_count, orders: row_count" in capsys.readouterr().err
