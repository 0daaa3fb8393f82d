"""Python UDFs in pipeline code run on the local engine: the server's Python workers use the
project's interpreter (with pyarrow), not whichever `python3` the PATH finds first."""

from __future__ import annotations

import pytest

_UDFS = """
import pandas as pd
from pyspark import pipelines as dp
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf, udf
from pyspark.sql.types import LongType, StringType


@udf(returnType=StringType())
def label(n):
    return "even" if n % 2 == 0 else "odd"


@pandas_udf(LongType())
def squared(n: pd.Series) -> pd.Series:
    return n * n


tripled = F.udf(lambda n: n * 3, LongType())


@udf(returnType=StringType(), useArrow=True)
def arrow_label(n):
    return f"#{n}"


@dp.materialized_view
def udf_numbers():
    return (spark.range(1, 5)
            .select("id", label("id").alias("label"), squared("id").alias("squared"),
                    tripled("id").alias("tripled"), arrow_label("id").alias("tag")))
"""


@pytest.mark.slow
def test_python_udfs_run_in_a_local_pipeline(pipelines):
    config = pipelines.project("udfs", {"udf_numbers": _UDFS})
    pipelines.ok(config)
    assert pipelines.rows("udf_numbers") == [
        {"id": n, "label": "odd" if n % 2 else "even", "squared": n * n, "tripled": 3 * n, "tag": f"#{n}"}
        for n in (1, 2, 3, 4)
    ]
