"""Batch mode: request files for a Batch API or an offline runner (`requests`), the results
read back into a run (`ingest`), and the OpenAI Batch API itself (`api`)."""
