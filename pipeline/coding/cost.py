"""What a run costs: USD for its tokens from a price table, in full, with the system prompt
cached, and at the Batch API's discount."""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import InputError
from pipeline.resources import packaged


def cached_prompt_cost(
    model: str, stats: dict, prices: dict | None, system_share: float | None
) -> float | None:
    """USD as above, with the system prompt's share of the prompt tokens at the cached-input
    price: what a provider that caches the shared prefix bills. Examples chosen per ad
    differ from ad to ad, so they are billed in full like the ad itself."""
    price = (prices or {}).get("models", {}).get(model)
    full = estimate_cost(model, stats, prices)
    if full is None or system_share is None or not price.get("cached_input"):
        return full
    saving = stats["prompt_tokens"] * system_share * (price["input"] - price["cached_input"])
    return round(full - saving / 1e6, 6)


def estimate_cost(model: str, stats: dict, prices: dict | None) -> float | None:
    """USD for the tokens of this run, where the model's price is known."""
    price = (prices or {}).get("models", {}).get(model)
    if not price:
        return None
    total = stats["prompt_tokens"] * price["input"] + stats["completion_tokens"] * price["output"]
    return round(total / 1e6, 6)


def load_prices(path) -> dict:
    import os

    import yaml

    path = path or os.environ.get("AUTOCODE_PRICES") or packaged("prices.yaml")
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the price table: {exc}") from None


def batch_cost(
    model: str, stats: dict, online: dict, prices: dict | None, discount: float
) -> float | None:
    """Batch tokens at the discounted price, tokens of online re-asks at the full one."""
    full = estimate_cost(model, {k: stats[k] for k in online}, prices)
    if full is None:
        return None
    reask = estimate_cost(model, online, prices) or 0.0
    return round((full - reask) * discount + reask, 6)
