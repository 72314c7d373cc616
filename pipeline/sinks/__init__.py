"""ClickHouse side of the pipeline: schema migrations, the record -> row mapper and the writer."""
