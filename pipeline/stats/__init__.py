"""Corpus statistics (`autocode stats`): inputs, estimators, tables, charts and outputs."""
