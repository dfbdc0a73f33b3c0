#!/usr/bin/env python3
"""Tests/browser/fixture-server.py [PORT]: stands in for the collector of `edgeagent run --collect`
for Tests/browser/fleet-page.sh. Serves, on 127.0.0.1 only, the page held by
Sources/EdgeFleet/FleetPage.swift (the lines between `#\"\"\"` and `\"\"\"#`) at `/`, and
fixtures/fleet.json, hosts-failed.json and hosts-stale.json at /fleet, /fleet/hosts?failed=1 and
/fleet/hosts?stale=1; anything else is 404. PORT 0 (the default) takes a free port; the port is
printed as the first line of stdout. Runs until killed."""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
SWIFT = os.path.join(HERE, "..", "..", "Sources", "EdgeFleet", "FleetPage.swift")


def page():
    lines = open(SWIFT, encoding="utf-8").read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("let fleetPageHTML") and l.endswith('#"""'))
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == '"""#')
    # A multi-line literal leaves out the newline before its closing delimiter.
    return "\n".join(lines[start + 1:end]).encode("utf-8")


def fixture(name):
    return open(os.path.join(HERE, "fixtures", name), "rb").read()


ROUTES = {
    "/": ("text/html; charset=utf-8", page),
    "/fleet": ("application/json", lambda: fixture("fleet.json")),
    "/fleet/hosts?failed=1": ("application/json", lambda: fixture("hosts-failed.json")),
    "/fleet/hosts?stale=1": ("application/json", lambda: fixture("hosts-stale.json")),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        route = ROUTES.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body = route[1]()
        self.send_response(200)
        self.send_header("Content-Type", route[0])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("fixture-server: %s %s\n" % (self.address_string(), fmt % args))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
