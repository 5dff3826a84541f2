"""Benchmark 4: prompt tokens of the corpus and what coding 1,000 ads costs on OpenAI.

Tokens are counted with the embedded model's own tokenizer (Gemma 3's, read from the GGUF
with `llama_cpp.Llama(vocab_only=True)`), since OpenAI's tokenizer files cannot be
downloaded here: they are Gemma-tokenizer counts, an estimate of OpenAI's. The static part
is the system prompt (identical for every ad, sent first) plus the response model's JSON
schema, which OpenAI also bills as input; the per-ad part is the ad's user message.
Per-message framing tokens (a few per message) are not counted.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from pipeline.ads import Ad
from pipeline.codebook import Codebook
from pipeline.coding.one_ad import RunOptions, prepare
from pipeline.llm.backend import Backend
from pipeline.llm.client import LLM

MODELS = ("gpt-4o-mini", "gpt-4.1")
PRICES_FILE = "pipeline/prices.yaml"


def tokenizer():
    """A function text -> token count, with the embedded GGUF's vocabulary only."""
    import llama_cpp

    from pipeline.llm.embedded import gguf_path

    vocab = llama_cpp.Llama(model_path=str(gguf_path()), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def count_tokens(ads: list[Ad], book: Codebook) -> dict:
    """Static and per-ad prompt tokens, as the pipeline builds the request for each ad."""
    count = tokenizer()
    llm = LLM(Backend("openai-compatible", "http://127.0.0.1:9/v1", "count", "sk-x", "json_schema"))
    options = RunOptions(Path("unused"))
    first = prepare(ads[0], book, llm, options)
    system = count(first.messages[0]["content"])
    schema = count(json.dumps(first.model_cls.model_json_schema(), ensure_ascii=False))
    per_ad = [count(prepare(ad, book, llm, options).messages[-1]["content"]) for ad in ads]
    return {
        "tokenizer": "Gemma 3 (embedded GGUF, llama_cpp vocab_only)",
        "static_system": system,
        "static_schema": schema,
        "static": system + schema,
        "ads": len(per_ad),
        "mean_per_ad": round(statistics.mean(per_ad), 1),
        "median_per_ad": statistics.median(per_ad),
        "max_per_ad": max(per_ad),
    }


def cost_per_1000(tokens: dict, completion: float, prices: dict, models=MODELS) -> dict:
    """USD per 1,000 ads: standard, with the static part at the cached-input price, batch."""
    static, ad = tokens["static"], tokens["mean_per_ad"]
    discount = prices.get("batch_discount", 0.5)
    out = {
        "source": f"{PRICES_FILE}: {prices.get('source', 'no source given')}",
        "completion_tokens_per_ad": completion,
        "batch_discount": discount,
        "models": {},
    }
    for name in models:
        price = prices["models"][name]
        standard = (static + ad) * price["input"] + completion * price["output"]
        cached = static * price["cached_input"] + ad * price["input"] + completion * price["output"]
        out["models"][name] = {
            "price_per_mtok": price,
            "standard": round(standard / 1000, 3),  # per token per 1e6, times 1,000 ads
            "prompt_caching": round(cached / 1000, 3),
            "batch": round(standard * discount / 1000, 3),
        }
    return out
