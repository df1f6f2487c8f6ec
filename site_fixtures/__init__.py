"""Test bed for webscan: synthetic pages, Wasm fixtures and a local server with a stub pool.

Nothing here is shipped in the wheel; it is a package only so `python -m site_fixtures.server`
works from the repository root.
"""
