"""Loopback stand-ins for LLM providers (see `mock.py`). Tests never reach a real provider."""
