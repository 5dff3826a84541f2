"""Coded corpora as streams and tidy tables: the ads read one at a time (`corpus`), coding
sets opened for lookups by ad id and joined with the ads (`sets`), and the long tables an
analyst loads into R, pandas, Polars or DuckDB (`rows`, `columns`, `write`, `export`).

The REFI-QDA export streams through the same join, so neither export holds the corpus."""
