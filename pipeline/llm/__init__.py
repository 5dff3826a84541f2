"""Talking to an LLM: the client (instructor over the openai SDK, retries), its cache, the
backends and their defaults, the faults a run meets, and the embedded llama.cpp server."""
