"""`python -m site_fixtures.server`: serve the fixture pages and the stub pool until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import sys

from site_fixtures.server.app import FixtureServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m site_fixtures.server",
        description="Serve webscan's synthetic miner and benign pages with a stub mining pool, "
                    "on loopback only. Port 0 picks a free port.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="origin A, first-party pages (default: a free port)")
    parser.add_argument("--port-b", type=int, default=0,
                        help="origin B, third-party scripts and iframes (default: a free port)")
    parser.add_argument("--pool-port", type=int, default=0, help="stub pool (default: free port)")
    parser.add_argument("--other-host", default=None,
                        help="host name used for origin B in URLs, e.g. thirdparty.test (map it "
                             "with --host-resolver-rules in the browser)")
    parser.add_argument("--verify-shares", action="store_true",
                        help="re-hash a sample of shares with wasmtime to prove real Wasm ran")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line (origins, pool, pages) instead of the table")
    args = parser.parse_args(argv)
    try:
        srv = FixtureServer(args.host, args.port, args.port_b, args.pool_port,
                            other_host=args.other_host, verify_shares=args.verify_shares).start()
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    o = srv.origins
    assert o is not None
    if args.json:
        print(json.dumps({"origin_a": o.a, "origin_b": o.b, "pool": o.pool, "origin_p": o.p,
                          "pages": srv.pages()}), flush=True)
    else:
        print(f"origin A (first party): {o.a}/")
        print(f"origin B (third party): {o.b}/")
        print(f"stub pool:              {o.pool}/pool/{{coinhive,stratum,wmp,btc}}")
        print(f"chat:                   {srv.chat_url()}")
        print(f"origin P (\"private\"):  {o.p}/  (the egress pages' target; see pages/README.md)")
        print("pages:")
        for page in srv.pages():
            print(f"  {page['expect']:<7} {page['url']}  {page.get('needs') or ''}")
        print("Ctrl-C to stop.", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
        if not args.json:
            print(json.dumps(srv.pool_stats()["total"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
