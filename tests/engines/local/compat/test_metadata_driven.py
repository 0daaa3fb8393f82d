"""Metadata-driven pipelines (dlt-meta, sdp-meta) are refused with the reason, before any run."""

from __future__ import annotations

import textwrap

import pytest

from etl_assets.engines.local.compat import _MetadataDrivenRefused
from etl_assets.engines.local.compat.errors import UnsupportedConstructError
from etl_assets.translation.sources import SourceError, datasets_defined, python_source

RUNNER = """
    # Databricks notebook source
    # MAGIC %pip install databricks-labs-sdp-meta==0.1.0

    # COMMAND ----------

    layer = spark.conf.get("layer", None)
    from databricks.labs.sdp_meta.dataflow_pipeline import DataflowPipeline
    DataflowPipeline.invoke_dlt_pipeline(spark, layer)
    """


def test_the_runner_notebook_is_refused_naming_the_framework_and_why(tmp_path):
    path = tmp_path / "init_sdp_meta_pipeline.py"
    path.write_text(textwrap.dedent(RUNNER).lstrip("\n"))
    with pytest.raises(SourceError) as raised:
        python_source(path)
    text = str(raised.value)
    assert "init_sdp_meta_pipeline.py:2: `databricks-labs-sdp-meta` builds a metadata-driven pipeline" in text
    assert "dataflow spec tables" in text and "Run it with the Databricks engine" in text
    assert datasets_defined(path) == {}  # reading its code statically finds no dataset, and does not fail


@pytest.mark.parametrize("module", ["dlt_meta", "databricks.labs.sdp_meta.dataflow_pipeline"])
def test_importing_the_framework_in_a_local_run_is_refused_with_the_same_reason(module):
    with pytest.raises(UnsupportedConstructError, match=f"import {module}: .* builds a metadata-driven pipeline"):
        _MetadataDrivenRefused().find_spec(module)
    assert _MetadataDrivenRefused().find_spec("databricks.sdk") is None
