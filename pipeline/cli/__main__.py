"""`python -m pipeline.cli`: the `autocode` command without its console script."""

from pipeline.cli import main

main(prog_name="autocode")
