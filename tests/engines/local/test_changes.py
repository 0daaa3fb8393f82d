"""What a local update has to do: each reason to skip a table and each reason not to.

The plans are Spark Connect protobuf messages built here as the client builds them; the tables
are folders with the commit markers Spark writes. No Spark runs (see test_incremental.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyspark.sql.connect.proto as pb2
import pytest

from etl_assets.engines.local.changes import (
    ENGINE_FILE_NAME_MARK,
    ChangeTracker,
    ReadRecorder,
    Reads,
    SettledWatcher,
    plan_reads,
    sql_reads,
)
from etl_assets.engines.local.home import LocalHome
from etl_assets.project.load import load_config
from tests.conftest import write_project

CONFIG = """
pipelines:
  p: {name: p}
tables:
  - {name: raw, layer: bronze, source: {type: files, format: json, path: raw}}
  - {name: clean, layer: silver, depends_on: [raw]}
  - {name: report, layer: gold, depends_on: [clean]}
"""
CODE = {
    "bronze/raw.py": "from pyspark import pipelines as dp\n\n@dp.table(name='raw')\ndef raw():\n    return 1\n",
    "silver/clean.py": "from pyspark import pipelines as dp\n\n@dp.materialized_view(name='clean')\ndef clean():\n"
                       "    return 1\n",
    "gold/report.py": "from pyspark import pipelines as dp\n\n@dp.materialized_view(name='report')\ndef report():\n"
                      "    return 1\n",
}
ORDER = ["raw", "clean", "report"]


def read_table(name: str, streaming: bool = False) -> pb2.Relation:
    return pb2.Relation(read=pb2.Read(named_table=pb2.Read.NamedTable(unparsed_identifier=name),
                                      is_streaming=streaming))


def read_files(path: str, fmt: str = "json") -> pb2.Relation:
    return pb2.Relation(read=pb2.Read(data_source=pb2.Read.DataSource(format=fmt, paths=[path]), is_streaming=True))


def function(name: str) -> pb2.Expression:
    return pb2.Expression(unresolved_function=pb2.Expression.UnresolvedFunction(function_name=name))


def selecting(relation: pb2.Relation, *expressions: pb2.Expression) -> pb2.Relation:
    return pb2.Relation(project=pb2.Project(input=relation, expressions=list(expressions)))


def flow(target: str, relation: pb2.Relation) -> pb2.Command:
    command = pb2.Command()
    command.pipeline_command.define_flow.CopyFrom(pb2.PipelineCommand.DefineFlow(
        flow_name=target, target_dataset_name=target,
        relation_flow_details=pb2.PipelineCommand.DefineFlow.WriteRelationFlowDetails(relation=relation)))
    return command


class Project:
    """A project and home on disk, with updates simulated: each writes its tables' commit markers
    and the reads file as the pipeline client does."""

    def __init__(self, root: Path, config_text: str = CONFIG):
        self.config = load_config(write_project(root / "project", config_text, files=False, code=CODE))
        self.home = LocalHome(root / "home")
        self.landing = self.home.landing / "raw"
        self.landing.mkdir(parents=True)
        (self.landing / "a.json").write_text('{"id": 1}\n')
        self.plans = {
            "raw": read_files(str(self.landing)),
            "clean": read_table("raw", streaming=True),
            "report": read_table("spark_catalog.default.clean"),
        }

    def tracker(self) -> ChangeTracker:
        return ChangeTracker(self.config, self.home, "p")

    def decide(self, tables=ORDER, full_refresh: bool = False):
        tracker = self.tracker()
        return tracker.decide(tables, full_refresh, {"clean": ["raw"], "report": ["clean"]})

    def write(self, table: str) -> None:
        location = self.home.table_location(table)
        location.mkdir(parents=True, exist_ok=True)
        marker = location / "_SUCCESS"
        marker.write_text("")
        later = time.time_ns() + 1_000_000 * (1 + len(list(location.iterdir())))
        os.utime(marker, ns=(later, later))

    def save_reads(self, tracker: ChangeTracker, tables) -> None:
        """The reads file of an update of `tables`, as the client writes it before any flow runs."""
        recorder = ReadRecorder()
        for table in tables:
            recorder.command(flow(table, self.plans[table]))
        recorder.save(str(tracker.reads_path))

    def update(self, tables=ORDER, full_refresh: bool = False) -> dict[str, str]:
        """One completed update: what it refreshed (table -> why)."""
        decision = self.decide(tables, full_refresh)
        tracker = self.tracker()
        tracker.forget(decision.run)
        self.save_reads(tracker, decision.run)
        for table in decision.run:
            self.write(table)
        tracker.record(list(decision.run), {t: [t] for t in decision.run}, set(decision.run), "now")
        return decision.run


@pytest.fixture
def made(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    assert project.update() == dict.fromkeys(ORDER, "no earlier completed refresh is recorded") | {
        "clean": "upstream raw is refreshed in this update", "report": "upstream clean is refreshed in this update"}
    return project


def test_nothing_changed_nothing_to_do(made):
    decision = made.decide()
    assert decision.run == {}
    assert set(decision.unchanged) == set(ORDER)
    assert decision.unchanged["report"].startswith("no input changed since its refresh of now")


def test_a_new_file_refreshes_its_reader_and_everything_downstream(made):
    (made.landing / "b.json").write_text('{"id": 2}\n')
    decision = made.decide()
    assert decision.run["raw"] == f"files under {made.landing} changed (new, changed or deleted)"
    assert decision.run["clean"] == "upstream raw is refreshed in this update"
    assert list(decision.run) == ORDER


def test_a_deleted_file_refreshes_its_reader(made):
    (made.landing / "a.json").unlink()
    assert "raw" in made.decide().run


def test_a_changed_file_refreshes_its_reader_but_hidden_files_do_not(made):
    (made.landing / "_SUCCESS").write_text("")  # not data: Spark and the landing sensor skip it
    (made.landing / ".a.json.crc").write_text("")
    assert made.decide().run == {}
    (made.landing / "a.json").write_text('{"id": 1}\n{"id": 3}\n')
    assert "raw" in made.decide().run


def test_an_upstream_commit_refreshes_the_table_reading_it(made):
    made.write("clean")  # written by another update, outside this selection
    decision = made.decide(["report"])
    assert decision.run == {"report": "upstream clean changed"}


def test_a_table_written_elsewhere_is_refreshed(made):
    made.write("report")
    assert made.decide(["report"]).run["report"].startswith("the table changed since its last refresh")


def test_a_code_change_refreshes_only_the_tables_it_may_shape(made):
    path = made.config.transformation_path("clean")
    path.write_text(path.read_text() + "# changed\n")
    decision = made.decide()
    assert decision.run == {"clean": "its code changed", "report": "upstream clean is refreshed in this update"}
    assert "raw" in decision.unchanged


def test_a_helper_module_beside_the_code_changes_every_table_of_the_pipeline(made):
    # Each file's folder goes on sys.path as the pipeline loads, so any file may import it.
    (made.config.transformation_path("clean").parent / "helpers.py").write_text("X = 1\n")
    assert made.decide().run["raw"] == "its code changed"


def test_a_settings_change_refreshes(tmp_path):
    project = Project(tmp_path)
    project.update()
    text = (project.config.root / "config.yml").read_text().replace("p: {name: p}", "p: {name: p, configuration: {x: '1'}}")
    (project.config.root / "config.yml").write_text(text)
    project.config = load_config(project.config.root / "config.yml")
    assert project.decide().run["raw"].startswith("its settings changed")


def test_the_setting_off_refreshes_everything(tmp_path):
    off = "p: {name: p, configuration: {local_engine.skip_unchanged: 'false'}}"
    project = Project(tmp_path, CONFIG.replace("p: {name: p}", off))
    project.update()
    assert project.decide().run == dict.fromkeys(ORDER, "skipping unchanged tables is off (local_engine.skip_unchanged: false)")


def test_a_full_refresh_refreshes_everything(made):
    assert made.decide(full_refresh=True).run == dict.fromkeys(ORDER, "full refresh")


def test_an_update_that_did_not_complete_leaves_no_record(made):
    (made.landing / "b.json").write_text('{"id": 2}\n')
    decision = made.decide()
    made.tracker().forget(decision.run)  # the update starts, then is interrupted: nothing recorded
    (made.landing / "b.json").unlink()  # even with the inputs back as they were
    assert made.decide().run == {"raw": "no earlier completed refresh is recorded",
                                 "clean": "upstream raw is refreshed in this update",
                                 "report": "upstream clean is refreshed in this update"}


def test_a_table_that_started_before_its_upstream_completed_gets_no_record(made):
    (made.landing / "b.json").write_text('{"id": 2}\n')
    tracker = made.tracker()
    decision = made.decide()
    tracker.forget(decision.run)
    made.save_reads(tracker, decision.run)
    assert tracker.record(ORDER, {t: [t] for t in ORDER}, {"raw", "report"}, "now") == ["raw", "report"]
    assert made.decide(["clean"]).run == {"clean": "no earlier completed refresh is recorded"}


@pytest.mark.parametrize(("plan", "reason"), [
    (selecting(read_table("raw"), function("current_timestamp")), "its query is not deterministic (current_timestamp)"),
    (selecting(read_table("raw"), function("rand")), "its query is not deterministic (rand)"),
    (pb2.Relation(sql=pb2.SQL(query="SELECT uuid() AS id, * FROM raw")), "its query is not deterministic (uuid)"),
    (pb2.Relation(read=pb2.Read(data_source=pb2.Read.DataSource(format="jdbc", options={"url": "jdbc:x"}))),
     "it reads what the engine does not track (a jdbc read)"),
    (read_files("/elsewhere/files"), "it reads what the engine does not track (files at /elsewhere/files, outside "
                                     "the local home)"),
    (read_table("other_catalog.sales.orders"), "it reads what the engine does not track (table "
                                               "other_catalog.sales.orders, outside the pipeline's database)"),
])
def test_queries_that_are_never_skipped(made, plan, reason):
    made.plans["clean"] = plan
    path = made.config.transformation_path("clean")
    path.write_text(path.read_text() + "# new query\n")
    made.update()
    assert made.decide().run == {"clean": reason, "report": "upstream clean is refreshed in this update"}
    assert made.decide().run["clean"] == reason  # every time, not only once


def test_plans_name_what_they_read():
    udf = pb2.Expression(common_inline_user_defined_function=pb2.CommonInlineUserDefinedFunction(
        function_name="pick", deterministic=False))
    same = pb2.Expression(common_inline_user_defined_function=pb2.CommonInlineUserDefinedFunction(
        function_name="double", deterministic=True))
    joined = pb2.Relation(join=pb2.Join(left=read_table("a"), right=selecting(read_table("b"), udf, same)))
    reads = plan_reads(joined)
    assert reads.tables == {"a", "b"}
    assert reads.nondeterministic == {"nondeterministic UDF pick"}
    expression = pb2.Expression(expression_string=pb2.Expression.ExpressionString(expression="rand() > 0.5"))
    assert plan_reads(selecting(read_table("a"), expression)).nondeterministic == {"rand"}
    cloud = pb2.Relation(read=pb2.Read(data_source=pb2.Read.DataSource(
        format="cloudFiles", options={"cloudFiles.format": "csv", "path": "/h/landing/x"})))
    assert plan_reads(cloud).paths == {"/h/landing/x": ""}
    assert plan_reads(pb2.Relation(read=pb2.Read(data_source=pb2.Read.DataSource(format="kafka")))).untracked == {
        "a kafka read"}


def test_the_local_auto_cdc_file_names_do_not_make_a_query_nondeterministic():
    def literal(value) -> pb2.Expression:
        kind = "string" if isinstance(value, str) else "integer"
        return pb2.Expression(literal=pb2.Expression.Literal(**{kind: value}))

    def call(name: str, *arguments: pb2.Expression) -> pb2.Expression:
        return pb2.Expression(unresolved_function=pb2.Expression.UnresolvedFunction(
            function_name=name, arguments=list(arguments)))

    def file_name(mark: str) -> pb2.Expression:
        return call("coalesce", call("substring_index", function("input_file_name"), literal("/"), literal(-1)),
                    literal(mark))

    assert plan_reads(selecting(read_table("feed"), file_name(ENGINE_FILE_NAME_MARK))).nondeterministic == set()
    # The same expression with another literal, or the file name alone, is the user's own: it
    # depends on how the files are laid out.
    assert plan_reads(selecting(read_table("feed"), file_name("x"))).nondeterministic == {"input_file_name"}
    assert plan_reads(selecting(read_table("feed"), function("input_file_name"))).nondeterministic == {
        "input_file_name"}


def test_sql_text_names_its_tables_but_not_its_ctes():
    reads = sql_reads("WITH recent AS (SELECT * FROM main.sales.orders) SELECT * FROM recent JOIN customers USING (id)",
                      Reads())
    assert reads.tables == {"main.sales.orders", "customers"}
    assert not reads.nondeterministic and not reads.untracked
    assert sql_reads("SELECT current_timestamp AS at, now() FROM t", Reads()).nondeterministic == {
        "current_timestamp", "now"}
    assert sql_reads("SELECT FROM WHERE (", Reads()).untracked == {"SQL the engine cannot parse"}


def test_views_are_followed_to_what_they_read(tmp_path):
    project = Project(tmp_path)
    tracker = project.tracker()
    view = pb2.Command()
    view.pipeline_command.define_output.CopyFrom(pb2.PipelineCommand.DefineOutput(
        output_name="recent", output_type=pb2.OutputType.TEMPORARY_VIEW))
    recorder = ReadRecorder()
    for command in (flow("raw", project.plans["raw"]), view, flow("recent", read_table("raw")),
                    flow("clean", read_table("recent"))):
        recorder.command(command)
    recorder.save(str(tracker.reads_path))
    for table in ("raw", "clean"):
        project.write(table)
    assert tracker.record(["raw", "clean"], {"raw": ["raw"], "clean": ["clean"]}, {"raw", "clean"}, "now") == [
        "raw", "clean"]
    record = json.loads(tracker.records_path.read_text())["tables"]["clean"]
    assert list(record["tables"]) == ["raw"] and record["untracked"] == []


def test_environment_variables_the_code_reads_are_part_of_it(made, monkeypatch):
    path = made.config.transformation_path("clean")
    path.write_text(path.read_text() + "import os\nSLOW = os.environ.get('SLOW_CLEAN')\n")
    made.update()
    assert made.decide().run == {}
    monkeypatch.setenv("SLOW_CLEAN", "3")
    assert made.decide().run["clean"] == "its code changed"
    monkeypatch.setenv("ANYTHING_ELSE", "1")  # a variable the code does not read
    monkeypatch.delenv("SLOW_CLEAN")
    assert made.decide().run == {}


def test_a_table_started_early_is_settled_only_if_its_upstream_did_not_commit_after():
    from etl_assets.engines.events import TableCompleted, TableStarted

    versions = {"raw": "commit:1"}
    watcher = SettledWatcher({"clean": ["raw"]}, ["raw", "clean"], versions.get)
    for event in (TableStarted("raw"), TableStarted("clean"), TableCompleted("raw"), TableCompleted("clean")):
        watcher.see(event)
    assert watcher.settled() == {"raw", "clean"}  # raw had committed already when clean started
    versions["raw"] = "commit:2"  # raw committed after clean started: clean may have read the old data
    assert watcher.settled() == {"raw"}
