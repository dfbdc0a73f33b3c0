#!/usr/bin/env bash
# Tests/browser/fleet-page.sh BASE_URL: renders the collector's page (Sources/EdgeFleet/FleetPage.swift,
# served at BASE_URL/) in Debian's headless chromium and checks what it shows against what the
# same server's JSON says. BASE_URL is a loopback http URL, e.g. http://127.0.0.1:8123: a running
# `edgeagent run --collect`, or Tests/browser/fixture-server.py, whose fixtures also hold a host id
# and reasons with `<script>`, `<img onerror>` and `&` to prove the page shows them as text.
# Checks: #hosts, #converged, #failed, #stale, #behind and #newest-serial equal /fleet's numbers;
# one bar row per serial (data-serial) whose text is "serial S: C converged, F failed, X stale of H";
# a row per failing host (data-host) holding each failed promise's id and reason, its crash-looping
# services and its pull error; a row per stale host; no refresh error; the title set by the page's
# own code (no injected handler changed it); no element from the data (only the page's one
# <script>, no <img>) and markup in the data present escaped (&lt;script&gt;); a screenshot that
# is a non-empty 1200x900 PNG ($SCREENSHOT_DIR/fleet-page.png if set, else in the temp dir).
# The collector must be quiet (no reports arriving) while this runs: the JSON is read once, before
# the page. Prints one ok/FAIL line per check; exits 1 if any failed, 2 on bad usage.
# Needs chromium, curl and python3 (Cross/setup.sh --host installs chromium).
set -euo pipefail
base=${1:-}
base=${base%/}
case "$base" in
  http://127.0.0.1:*|http://localhost:*|"http://[::1]:"*) ;;
  *) echo "usage: Tests/browser/fleet-page.sh http://127.0.0.1:PORT (loopback only)" >&2; exit 2 ;;
esac
command -v chromium >/dev/null || { echo "FAIL chromium is not installed (Cross/setup.sh --host)"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/edgeagent-page.XXXXXX")
cleanup() { rm -rf "$T"; }
trap cleanup EXIT
shot_dir=${SCREENSHOT_DIR:-$T}
mkdir -p "$shot_dir"
shot="$shot_dir/fleet-page.png"
rm -f "$shot"

curl -fsS --max-time 10 "$base/fleet" -o "$T/fleet.json"
curl -fsS --max-time 10 "$base/fleet/hosts?failed=1" -o "$T/failed.json"
curl -fsS --max-time 10 "$base/fleet/hosts?stale=1" -o "$T/stale.json"

# Its own profile in the temp dir: nothing of the machine's user is read or written. The virtual
# time budget lets the first fetch and render finish, and ends before the 5 s refresh.
browse() {
  chromium --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir="$T/profile" \
    --virtual-time-budget=3000 "$@" 2>>"$T/chromium.log"
}
if ! browse --dump-dom "$base/" > "$T/dom.html"; then
  echo "FAIL chromium --dump-dom"; tail -20 "$T/chromium.log"; exit 1
fi
browse --screenshot="$shot" --window-size=1200,900 "$base/" >/dev/null || true

python3 - "$T" "$shot" <<'PY'
import html, json, struct, sys
from html.parser import HTMLParser

tmp, shot = sys.argv[1], sys.argv[2]
fleet = json.load(open(tmp + "/fleet.json"))
failed = json.load(open(tmp + "/failed.json"))
stale = json.load(open(tmp + "/stale.json"))
raw = open(tmp + "/dom.html", encoding="utf-8").read()

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.kids = tag, dict(attrs), parent, []
    def text(self):
        return "".join(k if isinstance(k, str) else k.text() for k in self.kids)
    def walk(self):
        yield self
        for k in self.kids:
            if not isinstance(k, str):
                yield from k.walk()

class Tree(HTMLParser):
    def __init__(self):
        super().__init__()
        self.root = self.cur = Node("#root", [], None)
    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.kids.append(n)
        if tag not in VOID:
            self.cur = n
    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent
    def handle_data(self, data):
        self.cur.kids.append(data)

t = Tree()
t.feed(raw)
nodes = list(t.root.walk())
fails = 0

def check(name, good, detail=""):
    global fails
    print(("ok   " if good else "FAIL ") + name + ("" if good else ": " + detail))
    if not good:
        fails += 1

def norm(s):
    return " ".join(s.split())

def by_id(i):
    return next((n for n in nodes if n.attrs.get("id") == i), None)

for key, eid in [("hosts", "hosts"), ("converged", "converged"), ("failed", "failed"), ("stale", "stale"),
                 ("behind", "behind"), ("newest_serial", "newest-serial")]:
    n = by_id(eid)
    got = norm(n.text()) if n else None
    check("#%s = %s" % (eid, fleet[key]), got == str(fleet[key]), "page shows %r" % got)

bars = [n for n in nodes if "data-serial" in n.attrs]
check("one bar per serial (%d)" % len(fleet["serials"]), len(bars) == len(fleet["serials"]), "page has %d" % len(bars))
for s in fleet["serials"]:
    want = "serial %d: %d converged, %d failed, %d stale of %d" % (s["serial"], s["converged"], s["failed"], s["stale"], s["hosts"])
    row = next((n for n in bars if n.attrs["data-serial"] == str(s["serial"])), None)
    got = norm(row.text()) if row else None
    check("bar: " + want, got == want, "page shows %r" % got)
    segs = [n.attrs.get("class", "") for n in row.walk() if "seg" in n.attrs.get("class", "").split()] if row else []
    want_segs = ["seg " + k for k in ("converged", "failed", "stale") if s[k] > 0]
    check("bar %d segments %s" % (s["serial"], [x[4:] for x in want_segs]), segs == want_segs, "page has %r" % segs)

def rows(table_id):
    table = by_id(table_id)
    return {n.attrs["data-host"]: n for n in table.walk() if n.tag == "tr" and "data-host" in n.attrs} if table else {}

failing = rows("failing-hosts")
check("failing table: %d rows" % len(failed["hosts"]), len(failing) == len(failed["hosts"]), "page has %d" % len(failing))
for h in failed["hosts"]:
    row = failing.get(h["host_id"])
    check("failing row %r" % h["host_id"], row is not None, "missing")
    if row is None:
        continue
    text = row.text()
    cells = [norm(n.text()) for n in row.kids if not isinstance(n, str) and n.tag == "td"]
    check("  %r serial %s" % (h["host_id"], h["serial"]), len(cells) > 1 and cells[1] == str(h["serial"]), repr(cells[:2]))
    for f in h["failures"]:
        want = f["id"] + ": " + f["reason"]
        check("  %r failure %r" % (h["host_id"], want), want in text, "row text %r" % norm(text))
    for svc in h["crash_looping"]:
        check("  %r crash-looping %r" % (h["host_id"], svc), len(cells) > 4 and svc in cells[4], repr(cells))
    if h["pull_error"]:
        check("  %r pull error" % h["host_id"], len(cells) > 5 and cells[5] == norm(h["pull_error"]), repr(cells))

stale_rows = rows("stale-hosts")
check("stale table: %d rows" % len(stale["hosts"]), len(stale_rows) == len(stale["hosts"]), "page has %d" % len(stale_rows))
for h in stale["hosts"]:
    row = stale_rows.get(h["host_id"])
    cells = [norm(n.text()) for n in row.kids if not isinstance(n, str) and n.tag == "td"] if row else []
    check("stale row %r serial %s" % (h["host_id"], h["serial"]), len(cells) == 3 and cells[1] == str(h["serial"]), repr(cells))

err = by_id("error")
check("no refresh error", err is not None and norm(err.text()) == "", repr(err and err.text()))
upd = by_id("updated")
check("last update shown", upd is not None and norm(upd.text()).startswith("updated "), repr(upd and upd.text()))

title = next((n for n in nodes if n.tag == "title"), None)
want = "fleet: %d/%d converged, %d failed, %d stale" % (fleet["converged"], fleet["hosts"], fleet["failed"], fleet["stale"])
got = norm(title.text()) if title else None
check("title %r (set by the page alone)" % want, got == want, "title is %r" % got)
scripts = sum(1 for n in nodes if n.tag == "script")
check("only the page's own <script>", scripts == 1, "%d script elements" % scripts)
imgs = sum(1 for n in nodes if n.tag == "img")
check("no <img> from the data", imgs == 0, "%d img elements" % imgs)
texts = [h["host_id"] for h in failed["hosts"] + stale["hosts"]]
texts += [f["reason"] for h in failed["hosts"] for f in h["failures"]]
for s in texts:
    if "<" in s or "&" in s:
        esc = html.escape(s, quote=False)
        check("escaped in the DOM: %r" % s, esc in raw, "%r not found" % esc)

try:
    png = open(shot, "rb").read()
except OSError as e:
    png = b""
good = len(png) > 24 and png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
check("screenshot %s is a PNG (%d bytes)" % (shot, len(png)), good, "missing, empty or not a PNG")
if good:
    w, h = struct.unpack(">II", png[16:24])
    check("screenshot is 1200x900", (w, h) == (1200, 900), "%dx%d" % (w, h))
sys.exit(1 if fails else 0)
PY
