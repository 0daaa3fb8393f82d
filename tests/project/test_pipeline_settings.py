"""Where a pipeline's code lives (`file:`, `libraries:`), its `configuration:` and `spark_conf:`,
and the catalog and schema of its tables: validated, written into the local spec, checked
against the bundle, and shown as each engine names the table."""

from __future__ import annotations

import shutil

import pytest
import yaml

from etl_assets.engines.databricks.settings import DatabricksTraits
from etl_assets.engines.local.engine import LocalEngine
from etl_assets.engines.local.home import LocalHome
from etl_assets.engines.local.spec import POLLING_CONF, write_spec
from etl_assets.errors import ConfigError
from etl_assets.project.bundle import check_bundle
from etl_assets.project.load import load_config
from tests.conftest import SCENARIOS

MULTI = """\
    catalog: main
    schema: shop
    pipelines:
      sales:
        name: sales_pipeline
        libraries: [pipelines/sales/*.py, pipelines/sales/gold.sql]
        configuration: {source_path: /data/raw, ratio: 0.5, strict: true}
        spark_conf: {spark.sql.ansi.enabled: "false"}
    tables:
      - {name: raw_sales, layer: bronze}
      - {name: clean_sales, layer: silver, depends_on: [raw_sales]}
      - {name: sales_by_day, layer: gold, depends_on: [clean_sales], file: pipelines/sales/gold.sql}
"""

INGEST = '''\
import dlt

@dlt.table(name="raw_sales")
def raw_sales():
    return spark.readStream.format("json").load(spark.conf.get("source_path"))

@dlt.view
def sales_typed():
    return dlt.read_stream("raw_sales")

@dlt.table(name="clean_sales")
def clean_sales():
    return dlt.read_stream("sales_typed")
'''


def write_multi(project, text: str = MULTI):
    path = project(text, files=False)
    folder = path.parent / "pipelines" / "sales"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ingest.py").write_text(INGEST)
    (folder / "gold.sql").write_text("CREATE OR REFRESH MATERIALIZED VIEW sales_by_day AS\n"
                                     "SELECT count(*) AS n FROM clean_sales\n")
    return path


def problems(path) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return str(raised.value)


def test_tables_are_found_in_the_library_files(project):
    config = load_config(write_multi(project))
    assert config.relative_transformation_path("raw_sales") == "pipelines/sales/ingest.py"
    assert config.relative_transformation_path("clean_sales") == "pipelines/sales/ingest.py"
    assert config.relative_transformation_path("sales_by_day") == "pipelines/sales/gold.sql"
    assert [p.name for p in config.pipeline_files("sales")] == ["ingest.py", "gold.sql"]
    pipeline = config.pipelines["sales"]
    # Databricks takes configuration values as strings: YAML numbers and booleans become text.
    assert pipeline.configuration == {"source_path": "/data/raw", "ratio": "0.5", "strict": "true"}
    assert (config.catalog_of("sales"), config.schema_of("sales")) == ("main", "shop")


def test_a_table_no_library_defines_is_refused(project):
    path = write_multi(project, MULTI.replace("- {name: raw_sales, layer: bronze}",
                                              "- {name: raw_sales, layer: bronze}\n      - {name: lost, layer: silver}"))
    text = problems(path)
    assert "no library file of pipeline 'sales' defines 'lost'" in text
    assert "add 'file:'" in text


@pytest.mark.parametrize(("change", "message"), [
    (("pipelines/sales/*.py", "pipelines/nothing/*.py"), "library 'pipelines/nothing/*.py' matches no file"),
    (("pipelines/sales/*.py", "../elsewhere/*.py"), "library '../elsewhere/*.py' is outside the project folder"),
    (("spark.sql.ansi.enabled", "spark.sql.warehouse.dir"), "spark_conf 'spark.sql.warehouse.dir' is a setting of "
                                                           "the local Spark server"),
    (("spark.sql.ansi.enabled", "ansi"), "spark_conf key 'ansi' is not a Spark setting"),
    (("source_path:", "etl_assets.engine:"), "configuration key 'etl_assets.engine' is reserved"),
    (("schema: shop", "schema: my-shop"), "schema 'my-shop' is not a safe identifier"),
    (("file: pipelines/sales/gold.sql", "file: pipelines/sales/gold.ipynb"), "is not Python (.py) or SQL (.sql)"),
    (("file: pipelines/sales/gold.sql", "file: pipelines/sales/absent.sql"), "pipelines/sales/absent.sql is missing"),
    (("configuration: {", "configuration: {nested: {a: 1}, "), "configuration.nested"),
])
def test_bad_pipeline_settings_are_named(project, change, message):
    assert message in problems(write_multi(project, MULTI.replace(*change)))


def test_unknown_pipeline_key_lists_schema_by_its_name(project):
    text = problems(write_multi(project, MULTI.replace("name: sales_pipeline", "name: sales_pipeline\n        schemas: x")))
    assert "unknown pipeline 'sales' key 'schemas'" in text
    assert "did you mean 'schema'" in text


def test_the_local_spec_carries_files_configuration_and_spark_settings(project, tmp_path):
    config = load_config(write_multi(project))
    spec = yaml.safe_load(write_spec(config, "sales", LocalHome(tmp_path / "home")).read_text())
    included = [entry["glob"]["include"] for entry in spec["libraries"]]
    assert [i.rsplit("/", 1)[-1] for i in included] == ["ingest.py", "gold.sql"]
    conf = spec["configuration"]
    assert conf["source_path"] == "/data/raw" and conf["spark.sql.ansi.enabled"] == "false"
    assert conf["etl_assets.engine"] == "local"
    assert (conf["etl_assets.catalog"], conf["etl_assets.schema"]) == ("main", "shop")


def test_the_local_run_loop_looks_at_its_flows_without_sleeping_unless_spark_conf_says_otherwise(project, tmp_path):
    # The server's run loop sleeps `pollingInterval` seconds between looks at its flows (1 by
    # default): every graph level and the run's end waited for it (bench/README.md).
    config = load_config(write_multi(project))
    home = LocalHome(tmp_path / "home")
    conf = yaml.safe_load(write_spec(config, "sales", home).read_text())["configuration"]
    assert conf[POLLING_CONF] == "0"
    text = MULTI.replace('spark_conf: {spark.sql.ansi.enabled: "false"}',
                         f'spark_conf: {{spark.sql.ansi.enabled: "false", {POLLING_CONF}: "2"}}')
    own = load_config(write_multi(project, text))
    assert yaml.safe_load(write_spec(own, "sales", home).read_text())["configuration"][POLLING_CONF] == "2"


def test_each_engine_names_the_table_as_it_publishes_it(project):
    config = load_config(write_multi(project))
    assert DatabricksTraits.table_name(config, "clean_sales") == "main.shop.clean_sales"
    assert LocalEngine.table_name(config, "clean_sales") == "spark_catalog.default.clean_sales"
    plain = load_config(write_multi(project, MULTI.replace("    catalog: main\n", "")))
    assert DatabricksTraits.table_name(plain, "clean_sales") == "clean_sales"


@pytest.fixture
def shop(tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(SCENARIOS / "shop", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_bundle_must_deploy_the_configuration_config_gives(shop):
    config_path = shop / "config.yml"
    text = config_path.read_text()
    config_path.write_text(text.replace("name: etl_assets_orders", "name: etl_assets_orders\n"
                                        "    configuration: {region: eu}", 1))
    found = [p.message for p in check_bundle(load_config(config_path))]
    assert any("has no configuration 'region' (config.yml sets it)" in m for m in found), found
    resources = shop / "resources" / "pipelines.yml"
    bundle = yaml.safe_load(resources.read_text())
    for resource in bundle["resources"]["pipelines"].values():
        if resource["name"] == "etl_assets_orders":
            resource.setdefault("configuration", {})["region"] = "us"
    resources.write_text(yaml.safe_dump(bundle))
    found = [p.message for p in check_bundle(load_config(config_path))]
    assert any("sets configuration 'region' to 'us', config.yml to 'eu'" in m for m in found), found


def test_views_need_no_table_but_published_datasets_do(project):
    from etl_assets.project.bundle import check_code

    path = write_multi(project)
    config = load_config(path)
    assert check_code(config) == []  # sales_typed is a view: the pipeline's own business
    gold = path.parent / "pipelines" / "sales" / "gold.sql"
    gold.write_text(gold.read_text() + ";\nCREATE MATERIALIZED VIEW forgotten AS SELECT 1 AS one;\n"
                    "CREATE TEMPORARY VIEW scratch AS SELECT 2 AS two;\n")
    found = check_code(load_config(path))
    assert [(p.file, p.message) for p in found] == [
        ("pipelines/sales/gold.sql", "dataset 'forgotten' is defined in code but is not a table in config.yml")]


def test_a_bundle_style_double_star_glob_takes_every_source_below(project):
    path = write_multi(project, MULTI.replace("[pipelines/sales/*.py, pipelines/sales/gold.sql]", "[pipelines/**]"))
    (path.parent / "pipelines" / "sales" / "README.md").write_text("notes, not code\n")
    config = load_config(path)
    assert [p.name for p in config.library_files("sales")] == ["gold.sql", "ingest.py"]
    assert config.relative_transformation_path("clean_sales") == "pipelines/sales/ingest.py"


QUALIFIED = '''\
from pyspark import pipelines as dp

@dp.materialized_view(name="main.shop.raw_sales")
@dp.expect("has_id", "id IS NOT NULL")
def raw_sales():
    return spark.range(3)

@dp.materialized_view(name="shop.clean_sales")
def clean_sales():
    return spark.read.table("main.shop.raw_sales")
'''


def test_names_qualified_with_the_pipelines_catalog_and_schema_are_its_tables(project):
    from etl_assets.dagster.translator import TableTranslator
    from etl_assets.project.bundle import check_code
    from etl_assets.project.declared import with_declared_expectations

    path = write_multi(project)
    (path.parent / "pipelines" / "sales" / "ingest.py").write_text(QUALIFIED)
    config = load_config(path)  # validation finds raw_sales and clean_sales in ingest.py
    assert config.relative_transformation_path("raw_sales") == "pipelines/sales/ingest.py"
    assert check_code(config) == []
    assert [e.name for e in with_declared_expectations(config).table("raw_sales").expectations] == ["has_id"]
    references = TableTranslator().get_metadata(config.table("clean_sales"), config)["dagster/code_references"]
    assert references.code_references[0].line_number == 8
    # Another schema is no table of this pipeline: the message says why.
    (path.parent / "pipelines" / "sales" / "ingest.py").write_text(QUALIFIED.replace('name="shop.clean_sales"',
                                                                                     'name="finance.clean_sales"'))
    text = problems(path)
    assert "no library file of pipeline 'sales' defines 'clean_sales'" in text
    (path.parent / "pipelines" / "sales" / "extra.py").write_text(
        'from pyspark import pipelines as dp\n\n@dp.materialized_view(name="finance.rates")\n'
        'def rates():\n    return spark.range(1)\n')
    (path.parent / "pipelines" / "sales" / "ingest.py").write_text(QUALIFIED)
    found = check_code(load_config(path))
    assert [(p.file, p.line) for p in found] == [("pipelines/sales/extra.py", 3)]
    assert "outside the catalog and schema config.yml gives its pipeline" in found[0].hint
