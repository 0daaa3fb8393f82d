"""Stand-in data for the corpus examples: a few rows each, written as the examples read them.

Sample data sets (`samples.<schema>.<table>` in the examples) go where the local engine reads
three-part sample names: `<home>/samples/<catalog>/<schema>/<table>/` as Parquet. Raw files an
example reads through Auto Loader or `read_files` go under the example's data folder, whose
path reaches the example through its pipeline `configuration:`, or, for examples that read a
Unity Catalog volume (`/Volumes/<catalog>/<schema>/<volume>/...`), where the local engine maps
that volume: `<home>/volumes/<catalog>/<schema>/<volume>/...`.

The expected results in each example's `example.yml` are worked out by hand from these rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _sample(home: Path, name: str, table: pa.Table) -> None:
    catalog, schema, table_name = name.split(".")
    folder = home / "samples" / catalog / schema / table_name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-00000.parquet")


def nyctaxi_trips(home: Path, data: Path) -> None:
    """samples.nyctaxi.trips: 12 trips from 3 pickup zips (fares 47.5, 43.0 and 58.5 per zip)."""
    rows = [  # pickup_zip, fare_amount, trip_distance
        (10001, 10.0, 1.0), (10001, 12.5, 2.0), (10001, 7.5, 0.5), (10002, 20.0, 5.0),
        (10002, 15.0, 3.0), (10003, 30.0, 8.0), (10003, 5.0, 0.3), (10003, 9.5, 1.2),
        (10001, 11.0, 1.8), (10002, 8.0, 1.1), (10003, 14.0, 2.9), (10001, 6.5, 0.4),
    ]
    start = datetime(2016, 2, 14, 16, 0)
    _sample(home, "samples.nyctaxi.trips", pa.table({
        "tpep_pickup_datetime": pa.array([start.replace(minute=i) for i in range(len(rows))], pa.timestamp("us")),
        "tpep_dropoff_datetime": pa.array([start.replace(minute=30 + i) for i in range(len(rows))],
                                          pa.timestamp("us")),
        "trip_distance": [r[2] for r in rows],
        "fare_amount": [r[1] for r in rows],
        "pickup_zip": pa.array([r[0] for r in rows], pa.int32()),
        "dropoff_zip": pa.array([10010] * len(rows), pa.int32()),
    }))


def bakehouse_sales(home: Path, data: Path) -> None:
    """samples.bakehouse.sales_transactions: 10 sales of 3 products."""
    rows = [  # customerID, franchiseID, product, quantity, totalPrice
        (1, 1, "Golden Gate Ginger", 2, 6), (2, 1, "Golden Gate Ginger", 4, 12),
        (1, 2, "Golden Gate Ginger", 1, 3), (3, 2, "Austin Almond Biscotti", 10, 30),
        (3, 1, "Austin Almond Biscotti", 6, 18), (4, 3, "Tokyo Tidbits", 8, 24),
        (5, 3, "Tokyo Tidbits", 2, 6), (4, 3, "Tokyo Tidbits", 3, 9),
        (2, 2, "Golden Gate Ginger", 5, 15), (5, 1, "Austin Almond Biscotti", 2, 6),
    ]
    _sample(home, "samples.bakehouse.sales_transactions", pa.table({
        "transactionID": pa.array(range(1000, 1000 + len(rows)), pa.int64()),
        "customerID": pa.array([r[0] for r in rows], pa.int64()),
        "franchiseID": pa.array([r[1] for r in rows], pa.int64()),
        "dateTime": pa.array([datetime(2024, 5, 1, 8, i) for i in range(len(rows))], pa.timestamp("us")),
        "product": [r[2] for r in rows],
        "quantity": pa.array([r[3] for r in rows], pa.int64()),
        "unitPrice": pa.array([3] * len(rows), pa.int64()),
        "totalPrice": pa.array([r[4] for r in rows], pa.int64()),
        "paymentMethod": ["visa"] * len(rows),
        "cardNumber": pa.array([4000000000000000 + i for i in range(len(rows))], pa.int64()),
    }))


def tpch(home: Path, data: Path) -> None:
    """samples.tpch region, nation, customer, orders: 3 regions, 4 nations, 4 customers, 8 orders."""
    _sample(home, "samples.tpch.region", pa.table({
        "r_regionkey": pa.array([0, 1, 2], pa.int64()), "r_name": ["AMERICA", "EUROPE", "MIDDLE EAST"],
        "r_comment": ["", "", ""],
    }))
    _sample(home, "samples.tpch.nation", pa.table({
        "n_nationkey": pa.array([0, 1, 2, 3], pa.int64()), "n_name": ["BRAZIL", "CANADA", "FRANCE", "EGYPT"],
        "n_regionkey": pa.array([0, 0, 1, 2], pa.int64()), "n_comment": ["", "", "", ""],
    }))
    _sample(home, "samples.tpch.customer", pa.table({
        "c_custkey": pa.array([1, 2, 3, 4], pa.int64()),
        "c_name": ["Customer#1", "Customer#2", "Customer#3", "Customer#4"],
        "c_nationkey": pa.array([0, 1, 2, 3], pa.int64()),
        "c_phone": ["10-1", "11-2", "12-3", "13-4"],
    }))
    custkeys = [1, 1, 2, 3, 3, 3, 4, 2]
    prices = [100.0, 200.0, 50.0, 10.0, 20.0, 30.0, 999.0, 5.0]
    _sample(home, "samples.tpch.orders", pa.table({
        "o_orderkey": pa.array(range(1, 9), pa.int64()),
        "o_custkey": pa.array(custkeys, pa.int64()),
        "o_orderstatus": ["O", "F", "O", "F", "O", "F", "O", "F"],
        "o_totalprice": prices,
        "o_orderdate": pa.array([date(1995, 1, d) for d in range(1, 9)], pa.date32()),
    }))


def _json_lines(folder: Path, name: str, records: list[dict[str, object]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))


def _cdc_events(folder: Path) -> None:
    def event(id_: str | None, op: str | None, when: str, first: str | None = None, email: str | None = None,
              address: str | None = None, last: str | None = None) -> dict[str, object]:
        return {"id": id_, "firstname": first, "lastname": last, "email": email, "address": address,
                "operation": op, "operation_date": when}

    _json_lines(folder, "part-0.json", [
        event("1", "APPEND", "01-01-2024 10:00:00", "Alice", "a1@example.com", "1 First St", "Smith"),
        event("2", "APPEND", "01-01-2024 11:00:00", "Bob", "b@example.com", "2 Second St", "Jones"),
        event("3", "APPEND", "01-01-2024 12:00:00", "Carol", "c@example.com", "3 Third St", "Brown"),
        event("1", "UPDATE", "01-02-2024 10:00:00", "Alice", "a2@example.com", "9 Ninth St", "Smith"),
        event("4", "APPEND", "01-02-2024 11:00:00", "Dan", "d@example.com", "4 Fourth St", "Green"),
        event("2", "DELETE", "01-03-2024 10:00:00"),
        event(None, "APPEND", "01-03-2024 11:00:00", "Nobody", "n@example.com", "0 Zero St", "None"),
        event("5", None, "01-03-2024 12:00:00", "Eve", "e@example.com", "5 Fifth St", "White"),
        event("3", "UPDATE", "01-04-2024 10:00:00", "Carol", "c2@example.com", None, "Brown"),
        event("4", "UPDATE", "01-01-2024 09:00:00", "Dan", "old@example.com", "4 Old St", "Old"),
        event("6", "APPEND", "01-04-2024 11:00:00", "Fay", "f@example.com", "6 Sixth St", "Black"),
        event("6", "DELETE", "01-04-2024 12:00:00"),
    ])


def cdc_customers(home: Path, data: Path) -> None:
    """`<data>/cdc_raw/customers/`: 12 change events for customers 1 to 6 (JSON lines).

    Kept after AUTO CDC (SCD 1): 1 (its update), 3 (its update, address null), 4 (its insert: the
    older update arrives later but loses on operation_date). 2 and 6 are deleted; the event
    without id and the one for 5 without an operation are dropped by expectations.

    SCD 2 (history) keeps 8 rows of the 10 valid events: 1 (two rows, the first ended by its
    update), 2 (one row, ended by its delete), 3 (two), 4 (two: the older update first, ended by
    the insert whose operation_date is later), 6 (one, ended by its delete); 1, 3 and 4 have an
    open row.
    """
    _cdc_events(data / "cdc_raw" / "customers")


def dbdemos_cdc_customers(home: Path, data: Path) -> None:
    """The same 12 events in the volume the dbdemos CDC pipelines read with the corpus
    configuration (catalog `main`, schema `dbdemos_sdp_cdc`): `/Volumes/main/dbdemos_sdp_cdc/
    raw_data/customers/`, that is `<home>/volumes/main/dbdemos_sdp_cdc/raw_data/customers/`."""
    _cdc_events(home / "volumes" / "main" / "dbdemos_sdp_cdc" / "raw_data" / "customers")


def dbdemos_retail_c360(home: Path, data: Path) -> None:
    """The volume `/Volumes/main__build/dbdemos_retail_c360/c360/` the retail c360 pipelines read.

    `users/` (JSON): u1, u2 and a user without id (dropped by `user_valid_id`); `orders/` (JSON):
    o1 and o2 of u1 (amounts 10 and 25, 2 and 3 items), one order without id and one without
    user (both dropped); `events/` (CSV with a header line): three app events.
    """
    volume = home / "volumes" / "main__build" / "dbdemos_retail_c360" / "c360"
    _json_lines(volume / "users", "part-0.json", [
        {"id": "u1", "email": "a@x.com", "creation_date": "01-02-2024 10:00:00",
         "last_activity_date": "02-03-2024 11:00:00", "firstname": "alice", "lastname": "smith",
         "address": "1 Main St", "canal": "WEBAPP", "country": "FR", "gender": 0, "age_group": 3, "churn": 1},
        {"id": "u2", "email": "b@y.com", "creation_date": "03-04-2024 08:30:00",
         "last_activity_date": "03-05-2024 09:00:00", "firstname": "BOB", "lastname": "van dam",
         "address": "2 Side St", "canal": "MOBILE", "country": "USA", "gender": 1, "age_group": 5, "churn": 0},
        {"id": None, "email": "n@z.com", "creation_date": "03-04-2024 08:30:00",
         "last_activity_date": "03-05-2024 09:00:00", "firstname": "no", "lastname": "body",
         "address": "0 None St", "canal": "PHONE", "country": "SPAIN", "gender": 1, "age_group": 2, "churn": 0},
    ])
    _json_lines(volume / "orders", "part-0.json", [
        {"id": "o1", "user_id": "u1", "amount": 10, "item_count": 2, "transaction_date": "01-05-2024 09:00:00"},
        {"id": "o2", "user_id": "u1", "amount": 25, "item_count": 3, "transaction_date": "01-06-2024 09:00:00"},
        {"id": None, "user_id": "u2", "amount": 5, "item_count": 1, "transaction_date": "01-07-2024 09:00:00"},
        {"id": "o4", "user_id": None, "amount": 7, "item_count": 1, "transaction_date": "01-08-2024 09:00:00"},
    ])
    events = volume / "events"
    events.mkdir(parents=True, exist_ok=True)
    (events / "part-0.csv").write_text("user_id,session_id,date,platform,action,url\n"
                                       "u1,s1,01-05-2024 08:00:00,ios,view,https://shop/1\n"
                                       "u1,s2,01-06-2024 08:00:00,ios,checkout,https://shop/2\n"
                                       "u2,s3,03-05-2024 09:00:00,android,view,https://shop/3\n")


_IOT_HOUR = 1704103200  # 2024-01-01 10:00:00 UTC, a whole hour in any whole-hour time zone


def dbdemos_iot_turbines(home: Path, data: Path) -> None:
    """The volume `/Volumes/main_build/dbdemos_iot_platform/turbine_raw_landing/` the IoT demo reads.

    `incoming_data/` (Parquet): 7 sensor readings; two of turbine t2 have energy 0 and null
    (dropped by `correct_energy`), one has no turbine id (kept in bronze, dropped in the hourly
    stats). What stays groups into 3 (hour, turbine) rows: t1 in the first hour (energy 10 and
    20, sensor_A 1 and 3: average 15, population stddev 1), t1 in the next hour (30) and t2 in
    the first hour (40); every other sensor is constant within a group (stddev 0).
    `turbine/` (JSON): t1 and t2. `historical_turbine_status/` (JSON): one status per turbine.
    """
    landing = home / "volumes" / "main_build" / "dbdemos_iot_platform" / "turbine_raw_landing"
    rows = [  # turbine_id, seconds after the hour, energy, sensor_A
        ("t1", 60, 10.0, 1.0), ("t1", 120, 20.0, 3.0), ("t1", 3660, 30.0, 5.0), ("t2", 300, 40.0, 2.0),
        ("t2", 400, 0.0, 2.0), ("t2", 500, None, 2.0), (None, 600, 5.0, 9.0),
    ]
    incoming = landing / "incoming_data"
    incoming.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "turbine_id": pa.array([r[0] for r in rows], pa.string()),
        "timestamp": pa.array([_IOT_HOUR + r[1] for r in rows], pa.int64()),
        "energy": pa.array([r[2] for r in rows], pa.float64()),
        "sensor_A": pa.array([r[3] for r in rows], pa.float64()),
        **{f"sensor_{s}": pa.array([float(i)] * len(rows), pa.float64()) for i, s in enumerate("BCDEF", 2)},
    }), incoming / "part-00000.parquet")
    _json_lines(landing / "turbine", "part-0.json", [
        {"turbine_id": "t1", "country": "USA", "lat": "41.1", "location": "Farm A", "long": "-96.2", "model": "EpicWind",
         "state": "Nebraska"},
        {"turbine_id": "t2", "country": "USA", "lat": "35.4", "location": "Farm B", "long": "-101.8", "model": "EpicWind",
         "state": "Texas"},
    ])
    _json_lines(landing / "historical_turbine_status", "part-0.json", [
        {"turbine_id": "t1", "start_time": _IOT_HOUR - 86400, "end_time": _IOT_HOUR + 86400, "abnormal_sensor": "sensor_A"},
        {"turbine_id": "t2", "start_time": _IOT_HOUR - 86400, "end_time": _IOT_HOUR + 86400, "abnormal_sensor": "ok"},
    ])


def dbdemos_fsi_fraud(home: Path, data: Path) -> None:
    """The volume `/Volumes/main__build/dbdemos_fsi_fraud_detection/fraud_raw_data/` the fraud demo reads.

    `transactions/` (JSON): t1 (c1, 100, --FRA to USA), t2 (c2, 5, USA to FRA), t3 (no customer,
    70, FRA to --USA), t4 (c1, 30, FRA to ESP); balance differences (new - old) of origin -100,
    -5, -70, -30 and of destination 100, 5, 70, 30. `customers/` (CSV with a header): c1 Ann, c2
    Bob. `country_code/` (CSV): FRA and USA (no ESP). `fraud_report/` (CSV): t1 is a fraud.
    The gold join keeps t1 and t2: t3 has no customer, ESP has no coordinates.
    """
    raw = home / "volumes" / "main__build" / "dbdemos_fsi_fraud_detection" / "fraud_raw_data"

    def transaction(id_: str, customer: str | None, amount: float, orig: str, dest: str, old_orig: float,
                    new_orig: float, old_dest: float, new_dest: float) -> dict[str, object]:
        return {"id": id_, "customer_id": customer, "amount": amount, "type": "TRANSFER", "countryOrig": orig,
                "countryDest": dest, "oldBalanceOrig": old_orig, "newBalanceOrig": new_orig,
                "oldBalanceDest": old_dest, "newBalanceDest": new_dest}

    _json_lines(raw / "transactions", "part-0.json", [
        transaction("t1", "c1", 100.0, "--FRA", "USA", 500.0, 400.0, 0.0, 100.0),
        transaction("t2", "c2", 5.0, "USA", "FRA", 50.0, 45.0, 10.0, 15.0),
        transaction("t3", None, 70.0, "FRA", "--USA", 100.0, 30.0, 0.0, 70.0),
        transaction("t4", "c1", 30.0, "FRA", "ESP", 400.0, 370.0, 0.0, 30.0),
    ])
    for folder, text in (("customers", "id,firstname,age,country\nc1,Ann,34,FRA\nc2,Bob,51,USA\n"),
                         ("country_code", "alpha3_code,country,long_avg,lat_avg\nFRA,France,2.2,46.2\n"
                                          "USA,United States,-98.5,39.8\n"),
                         ("fraud_report", "id,is_fraud\nt1,1\n")):
        (raw / folder).mkdir(parents=True, exist_ok=True)
        (raw / folder / "part-0.csv").write_text(text)


def dbdemos_sdp_unit_test(home: Path, data: Path) -> None:
    """What the unit-test demo's pipeline reads: its rules table and its test volume.

    `main__build.dbdemos_sdp_unit_test.expectations` (a table the demo writes before the
    pipeline runs; here Parquet under `<home>/samples/...`): the demo's six rules by tag.
    `/Volumes/main__build/dbdemos_sdp_unit_test/raw_data/test/users_json/` (JSON): users 1 to 4,
    user 0 (dropped in silver: id > 0), a user without id (dropped in silver) and one whose id is
    not a number (email margaret84@example.com, the row the demo's bronze test looks for:
    rescued, dropped in bronze). `spend_csv/` (CSV with a header): spend of users 1, 2, 3 (3
    without age), one line without id and one with id `bad` (both dropped in silver). Gold
    keeps users 1 and 2 (3 has no age, 4 no spend).
    """
    _sample(home, "main__build.dbdemos_sdp_unit_test.expectations", pa.table({
        "tag": ["user_bronze_sdp", "user_silver_sdp", "spend_silver_sdp", "user_gold_sdp", "user_gold_sdp",
                "user_gold_sdp"],
        "name": ["correct_schema", "valid_id", "valid_id", "valid_age", "valid_income", "valid_score"],
        "constraint": ["_rescued_data IS NULL", "id IS NOT NULL AND id > 0", "id IS NOT NULL AND id > 0",
                       "age IS NOT NULL", "annual_income IS NOT NULL", "spending_core IS NOT NULL"],
    }))
    test = home / "volumes" / "main__build" / "dbdemos_sdp_unit_test" / "raw_data" / "test"

    def user(id_: object, first: str, email: str) -> dict[str, object]:
        row: dict[str, object] = {"id": id_} if id_ is not None else {}
        return {**row, "email": email, "creation_date": "01-02-2024 10:00:00",
                "last_activity_date": "02-03-2024 11:30:00", "firstname": first, "lastname": "Doe",
                "address": "1 Main St", "city": "Springfield", "last_ip": "10.0.0.1", "postcode": "12345"}

    _json_lines(test / "users_json", "users.json", [
        user(1, "Ann", "ann@example.com"), user(2, "Bob", "bob@example.com"), user(3, "Cid", "cid@example.com"),
        user(4, "Dee", "dee@example.com"), user(0, "Zed", "zed@example.com"), user(None, "Nil", "nil@example.com"),
        user("invalid ID", "Margaret", "margaret84@example.com"),
    ])
    (test / "spend_csv").mkdir(parents=True, exist_ok=True)
    (test / "spend_csv" / "spend.csv").write_text("id,age,annual_income,spending_core\n1,30,100.5,10.0\n"
                                                  "2,40,200.0,20.0\n3,,300.0,30.0\n,50,400.0,40.0\n"
                                                  "bad,60,500.0,50.0\n")


def dbdemos_fsi_credit(home: Path, data: Path) -> None:
    """The volume `/Volumes/main__build/dbdemos_fsi_credit_decisioning/credit_raw_data/` the credit demo reads.

    `internalbanking/customer/` (CSV): customers 1 (born 1990) and 2 (born 1985);
    `internalbanking/relationship/` (CSV): one relationship each (tenure 5 and 3);
    `internalbanking/account/` (CSV): accounts 100 (customer 1, USD, 1000), 101 (customer 1, EUR,
    500), 102 (customer 2, USD, 200): customer 1 has 2 accounts averaging 750, customer 2 one of
    200. `fund_trans/` (JSON): f1 from account 100 to 102 (customer 1 to 2), f2 from 102 to 101
    (2 to 1), f3 from an unknown account 999 to 100 (nobody to 1). `credit_bureau/` (JSON): 2
    reports; `telco/` (JSON): one line.
    """
    raw = home / "volumes" / "main__build" / "dbdemos_fsi_credit_decisioning" / "credit_raw_data"
    for folder, text in (
            ("internalbanking/customer", "id,first_name,mobile_phone,dob,join_date,passport_expiry,visa_expiry\n"
                                         "1,Ann,555-0101,1990-05-01,2020-01-15,2030-01-01,\n"
                                         "2,Bob,555-0102,1985-12-31,2021-06-01,2029-06-30,2026-01-01\n"),
            ("internalbanking/relationship", "id,cust_id,operation,tenure\n10,1,INSERT,5\n11,2,INSERT,3\n"),
            ("internalbanking/account", "id,cust_id,balance,available_balance,currency,operation\n"
                                        "100,1,1000.0,900.0,USD,INSERT\n101,1,500.0,500.0,EUR,INSERT\n"
                                        "102,2,200.0,150.0,USD,INSERT\n")):
        (raw / folder).mkdir(parents=True, exist_ok=True)
        (raw / folder / "part-0.csv").write_text(text)
    _json_lines(raw / "fund_trans", "part-0.json", [
        {"id": "f1", "payer_acc_id": 100, "payee_acc_id": 102, "txn_amt": 50.0, "datetime": "2024-03-01 10:00:00"},
        {"id": "f2", "payer_acc_id": 102, "payee_acc_id": 101, "txn_amt": 20.0, "datetime": "2024-03-02 10:00:00"},
        {"id": "f3", "payer_acc_id": 999, "payee_acc_id": 100, "txn_amt": 5.0, "datetime": "2024-03-03 10:00:00"},
    ])
    _json_lines(raw / "credit_bureau", "part-0.json", [
        {"CUST_ID": 1, "NUM_CREDIT_CARDS": 2, "DEBT": 1200.0}, {"CUST_ID": 2, "NUM_CREDIT_CARDS": 1, "DEBT": 0.0},
    ])
    _json_lines(raw / "telco", "part-0.json", [{"user_phone": "555-0101", "is_pre_paid": 0, "number_payment_delays_last12mo": 1}])


def tmm_loan_io(home: Path, data: Path) -> None:
    """The volumes `/Volumes/demo/loan_io/...` the loan-broker workshop pipeline reads.

    `raw_transactions/` (JSON): t1 (treatment 1, balance 100, CC1, US, count 2), t2 (2, 50, CC2,
    FR, count 1, a payment date of 2019: warned only), t3 (1, 30, CC1, FR, count 4), t4 (1, balance
    -20, CC2, US: dropped from the cleaned table, kept in quarantine), t5 (treatment 9, unknown:
    lost in the join). `historical_loans/` (CSV with a header): NY 1000 and 250, CA 500 (all
    known treatments) and TX 42 (treatment 9, lost in the join). `ref_accounting/`: a Delta
    table written twice; its current version holds treatments 1 and 2, while the Parquet file
    of the first version (treatment 1 as `superseded`) stays in the folder, removed by the log.
    """
    from deltalake import write_deltalake

    loan_io = home / "volumes" / "demo" / "loan_io"

    def tx(id_: str, treatment: int, balance: int, cost_center: str, country: str, count: int,
           next_payment: str) -> dict[str, object]:
        return {"id": id_, "accounting_treatment_id": treatment, "balance": balance, "arrears_balance": 5,
                "cost_center_code": cost_center, "country_code": country, "count": count,
                "next_payment_date": next_payment}

    _json_lines(loan_io / "raw_transactions", "part-0.json", [
        tx("t1", 1, 100, "CC1", "US", 2, "2024-03-01"), tx("t2", 2, 50, "CC2", "FR", 1, "2019-06-01"),
        tx("t3", 1, 30, "CC1", "FR", 4, "2024-05-01"), tx("t4", 1, -20, "CC2", "US", 3, "2024-01-01"),
        tx("t5", 9, 70, "CC3", "DE", 1, "2024-02-01"),
    ])
    (loan_io / "historical_loans").mkdir(parents=True, exist_ok=True)
    (loan_io / "historical_loans" / "part-0.csv").write_text(
        "accounting_treatment_id,revol_bal,addr_state\n1,1000,NY\n2,500,CA\n1,250,NY\n9,42,TX\n")
    ref = loan_io / "ref_accounting"
    write_deltalake(str(ref), pa.table({"id": pa.array([1], pa.int64()), "accounting_treatment": ["superseded"]}))
    write_deltalake(str(ref), pa.table({"id": pa.array([1, 2], pa.int64()),
                                        "accounting_treatment": ["held_to_maturity", "available_for_sale"]}),
                    mode="overwrite")


def us_customers(home: Path, data: Path) -> None:
    """`<data>/customers_us_west/` (3 customers) and `<data>/customers_us_east/` (4), JSON lines."""
    _json_lines(data / "customers_us_west", "part-0.json", [
        {"id": 1, "name": "Ana", "state": "CA"}, {"id": 2, "name": "Ben", "state": "OR"},
        {"id": 3, "name": "Cy", "state": "WA"},
    ])
    _json_lines(data / "customers_us_east", "part-0.json", [
        {"id": 4, "name": "Di", "state": "NY"}, {"id": 5, "name": "Ed", "state": "MA"},
        {"id": 6, "name": "Flo", "state": "NJ"}, {"id": 7, "name": "Gus", "state": "FL"},
    ])


def wikipedia_clickstream(home: Path, data: Path) -> None:
    """`/databricks-datasets/wikipedia-datasets/.../2015_2_clickstream.json` (4 clicks, one from an
    external referrer whose `prev_id` is empty, as in the real data set), under `<home>/databricks-datasets/`."""
    folder = home / "databricks-datasets/wikipedia-datasets/data-001/clickstream/raw-uncompressed-json"
    _json_lines(folder, "2015_2_clickstream.json", [
        {"prev_id": "3", "curr_id": "10", "n": 30, "prev_title": "Big_data", "curr_title": "Apache_Spark", "type": "link"},
        {"prev_id": "4", "curr_id": "10", "n": 50, "prev_title": "Hadoop", "curr_title": "Apache_Spark", "type": "link"},
        {"prev_id": "", "curr_id": "10", "n": 20, "prev_title": "other-google", "curr_title": "Apache_Spark",
         "type": "external"},
        {"prev_id": "10", "curr_id": "11", "n": 5, "prev_title": "Apache_Spark", "curr_title": "Scala", "type": "link"},
    ])


def retail_org(home: Path, data: Path) -> None:
    """`/databricks-datasets/retail-org/`: 3 customers (CSV with a header) and 4 sales orders (JSON
    lines), 2 in Los Angeles, 1 in Chicago, 1 without an order number."""
    root = home / "databricks-datasets/retail-org"
    (root / "customers").mkdir(parents=True, exist_ok=True)
    (root / "customers" / "customers.csv").write_text(
        "customer_id,customer_name,state,city,lon,lat,units_purchased,loyalty_segment\n"
        "1,Ann,CA,Los Angeles,-118.2,34.1,10,1\n"
        "2,Bob,IL,Chicago,-87.6,41.9,4,2\n"
        "3,Cy,CA,Los Angeles,-118.3,34.0,7,3\n")

    def order(number: object, customer: str, name: str, when: int, products: list[tuple[str, int, int]]) -> dict:
        return {"customer_id": customer, "customer_name": name, "number_of_line_items": str(len(products)),
                "order_datetime": str(when), "order_number": number,
                "ordered_products": [{"curr": "USD", "id": pid, "name": pid, "price": price, "qty": qty, "unit": "pcs"}
                                     for pid, price, qty in products]}
    _json_lines(root / "sales_orders", "part-0.json", [
        order(1001, "1", "Ann", 1577880000, [("p1", 10, 1), ("p2", 5, 2)]),
        order(1002, "3", "Cy", 1577880000, [("p1", 10, 3)]),
        order(1003, "2", "Bob", 1577966400, [("p3", 7, 1)]),
        order(None, "2", "Bob", 1577966400, [("p3", 7, 9)]),
    ])


def _spark_output(folder: Path, parts: list[str], suffix: str) -> None:
    """Files as a Spark writer on Databricks leaves them: `part-*` files, `_SUCCESS`, and the
    transactional commit protocol's `_started_<id>` / `_committed_<id>` markers."""
    folder.mkdir(parents=True, exist_ok=True)
    job = "5383176523441283491"
    for i, text in enumerate(parts):
        (folder / f"part-{i:05d}-tid-{job}-5a8f3c1e-0d2b-4e7a-9c61-3f0b7d2e91a4-{i}-1-c000{suffix}").write_text(text)
    (folder / f"_started_{job}").write_text("")
    (folder / f"_committed_{job}").write_text('{"added":[%s],"removed":[]}' % ",".join(
        f'"part-{i:05d}-tid-{job}-5a8f3c1e-0d2b-4e7a-9c61-3f0b7d2e91a4-{i}-1-c000{suffix}"' for i in range(len(parts))))
    (folder / "_SUCCESS").write_text("")


LINEITEM_HEADER = ("l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,l_extendedprice,l_discount,l_tax,"
                   "l_returnflag,l_linestatus,l_shipdate,l_commitdate,l_receiptdate,l_shipinstruct,l_shipmode,"
                   "l_comment\n")


def lhp_tpch_sample(home: Path, data: Path) -> None:
    """What Lakehouse Plumber's sample data preparation notebook leaves after round 1, small.

    `samples.tpch` region / nation (the `tpch` data sets). In the landing volume
    `/Volumes/main/sample_bronze/landing/`: `lineitem/round1/` (CSV with a header, 2 + 1 lines in
    two part files) and `orders/round1/` (JSON lines, 3 + 3 orders: order 4 has a status outside
    O/F/P (a warning only), order 5 a total price of 0 (filtered out in silver), the sixth no
    `o_orderkey` (the writer leaves null fields out; dropped by an expectation)), each with
    `_SUCCESS`, `_started_*` and `_committed_*`. Tables the notebook creates in
    `main.sample_bronze`: `customer_cdf` (customers 1 to 4 in nations 0, 1, 2, 3; a table with
    its change feed on: read as one commit) and `supplier_snapshots` (snapshot 1: suppliers 1 to 3).
    """
    tpch(home, data)
    landing = home / "volumes" / "main" / "sample_bronze" / "landing"
    _spark_output(landing / "lineitem" / "round1", [
        LINEITEM_HEADER
        + "1,155190,7706,1,17.00,21168.25,0.04,0.02,N,O,1992-01-13,1992-02-12,1992-01-22,DELIVER IN PERSON,TRUCK,"
          "regular deposits\n"
        + "1,67310,7311,2,36.00,45983.50,0.09,0.06,N,O,1992-01-12,1992-02-28,1992-01-20,TAKE BACK RETURN,MAIL,"
          "quick packages\n",
        LINEITEM_HEADER
        + "2,106170,1191,1,38.00,44694.75,0.00,0.05,N,O,1992-01-28,1992-01-30,1992-02-02,TAKE BACK RETURN,RAIL,"
          "final requests\n",
    ], ".csv")

    def order(key: int | None, cust: int, status: str, price: str, day: int) -> str:
        fields = [f'"o_orderkey":{key}'] if key is not None else []
        fields += [f'"o_custkey":{cust}', f'"o_orderstatus":"{status}"', f'"o_totalprice":{price}',
                   f'"o_orderdate":"1992-01-{day:02d}"', '"o_orderpriority":"5-LOW"', '"o_clerk":"Clerk#000000951"',
                   '"o_shippriority":0', '"o_comment":"sleep"', f'"received_at":"1992-01-{day:02d}T00:00:00.000Z"']
        return "{" + ",".join(fields) + "}\n"

    _spark_output(landing / "orders" / "round1", [
        order(1, 1, "O", "100.50", 2) + order(2, 2, "F", "200.25", 5) + order(3, 3, "P", "50.00", 10),
        order(4, 1, "X", "30.00", 20) + order(5, 2, "F", "0.00", 21) + order(None, 3, "O", "10.00", 22),
    ], ".json")
    _sample(home, "main.sample_bronze.customer_cdf", pa.table({
        "c_custkey": pa.array([1, 2, 3, 4], pa.int64()),
        "c_name": ["Customer#000000001", "Customer#000000002", "Customer#000000003", "Customer#000000004"],
        "c_address": ["IVhzIApeRb", "XSTf4,NCwDVaW", "MG9kdTD2WBHm", "XxVSJsLAGtn"],
        "c_nationkey": pa.array([0, 1, 2, 3], pa.int64()),
        "c_phone": ["25-989-741-2988", "23-768-687-3665", "11-719-748-3364", "14-128-190-5944"],
        "c_acctbal": pa.array([711.56, 121.65, 7498.12, 2866.83], pa.float64()),
        "c_mktsegment": ["BUILDING", "AUTOMOBILE", "AUTOMOBILE", "MACHINERY"],
        "c_comment": ["", "", "", ""],
    }))
    _sample(home, "main.sample_bronze.supplier_snapshots", pa.table({
        "s_suppkey": pa.array([1, 2, 3], pa.int64()),
        "s_name": ["Supplier#000000001", "Supplier#000000002", "Supplier#000000003"],
        "s_address": ["N kD4on9OM Ipw3,gf0J", "89eJ5ksX3ImxJQBvxObC,", "q1,G3Pj6OjIuUYfUoH18BFTKP5aU9bEV3"],
        "s_nationkey": pa.array([2, 1, 3], pa.int64()),
        "s_phone": ["27-918-335-1736", "15-679-861-2259", "11-383-516-1199"],
        "s_acctbal": pa.array([5755.94, 4032.68, 4192.40], pa.float64()),
        "s_comment": ["", "", ""],
        "snapshot_id": pa.array([1, 1, 1], pa.int32()),
    }))


BUILDERS: dict[str, Callable[[Path, Path], None]] = {
    "nyctaxi_trips": nyctaxi_trips,
    "bakehouse_sales": bakehouse_sales,
    "tpch": tpch,
    "cdc_customers": cdc_customers,
    "dbdemos_cdc_customers": dbdemos_cdc_customers,
    "dbdemos_retail_c360": dbdemos_retail_c360,
    "dbdemos_iot_turbines": dbdemos_iot_turbines,
    "dbdemos_fsi_fraud": dbdemos_fsi_fraud,
    "dbdemos_sdp_unit_test": dbdemos_sdp_unit_test,
    "dbdemos_fsi_credit": dbdemos_fsi_credit,
    "tmm_loan_io": tmm_loan_io,
    "us_customers": us_customers,
    "wikipedia_clickstream": wikipedia_clickstream,
    "retail_org": retail_org,
    "lhp_tpch_sample": lhp_tpch_sample,
}


def write_stand_in(names: list[str], home: Path, data: Path) -> None:
    """Write the named stand-in data sets for an example run."""
    for name in names:
        BUILDERS[name](home, data)
