"""Gold and draft Markdown: rendering a coding (`render`) and reading one back (`parse`)."""
