"""Local fixture server for webscan's crawler, service and extension tests.

    python -m site_fixtures.server [--host 127.0.0.1] [--port 0] [--port-b 0] [--pool-port 0]

or, from Python (background thread, free ports):

    with FixtureServer() as srv:
        srv.url("/miner/first-party.html"), srv.pool_url("coinhive"), srv.pool_stats()

See site_fixtures/pages/README.md for the pages and the verdict each must get.
"""

from site_fixtures.server.app import FixtureServer, check_loopback
from site_fixtures.server.pool import PROTOCOLS, PoolSession, PoolStats, detect_protocol

__all__ = ["FixtureServer", "check_loopback", "PROTOCOLS", "PoolSession", "PoolStats",
           "detect_protocol"]
