"""The static-site build (`python -m wasm_agent build` / `serve`): see build/site.py."""
