"""Coding sets: loading any of them (an OUT folder, a codings.jsonl, a folder of Markdown
codings), the consensus of several codings of one ad, and merging sets (`autocode merge`)."""
