"""Files shipped inside the package: the default codebook, the prompt templates, the review
page templates and the price table. They are found through importlib.resources, so an
installed wheel works from any folder; in the repository, `pipeline/codebook.yaml` and
`pipeline/prompts` are links to the root `codebook.yaml` and `prompts/` that users edit.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment


def packaged(name: str) -> Path:
    """The shipped file or folder `name`, as a path (pip installs packages unzipped)."""
    resource = files("pipeline") / name
    if not isinstance(resource, Path):  # a zipped install: jinja2 and the CLI need paths
        raise RuntimeError(f"autocode's {name} is not on the file system ({resource})")
    return resource.resolve()  # in a checkout, the root file the link points to


def page_templates(folder: Path) -> Environment:
    """The HTML templates of a shipped folder (the review pages, the stats page): every value
    escaped, an undefined name an error."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined  # pages only: kept lazy

    return Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
