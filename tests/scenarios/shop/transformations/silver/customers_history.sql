-- customers_history: every version of each customer (SCD type 2), from the cleaned change events.
-- The scenario's own code: the SQL twin of an AUTO CDC flow, next to the Python SCD type 1 table.

CREATE OR REFRESH STREAMING TABLE customers_history
  COMMENT "Every version of each customer, with __START_AT and __END_AT";

CREATE FLOW customers_history_flow AS AUTO CDC INTO customers_history
FROM STREAM(customers_cdc_clean)
KEYS (id)
APPLY AS DELETE WHEN operation = 'DELETE'
SEQUENCE BY to_timestamp(operation_date, 'MM-dd-yyyy HH:mm:ss')
COLUMNS * EXCEPT (operation, operation_date, _rescued_data)
STORED AS SCD TYPE 2;
