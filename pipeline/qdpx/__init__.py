"""REFI-QDA exchange: the format, exporting a project (`export`, `source`), reading one
(`read`) and turning it back into codings (`importer`)."""
