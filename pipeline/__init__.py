"""autocode: LLM-assisted deductive coding of job ads against a codebook."""

__version__ = "0.1.0"
