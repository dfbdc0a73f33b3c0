// FleetPage: the collector's web page, served at `/` by `edgeagent run --collect`. One
// self-contained HTML file (inline CSS and JS, ASCII only) that fetches the relative URLs `fleet`,
// `fleet/hosts?failed=1` and `fleet/hosts?stale=1` every 5 s and draws the totals, a bar per
// serial and the failing and stale hosts; the collector's text reaches the DOM only through
// textContent. Imports nothing. The page must never contain the raw string's closing delimiter
// or a backslash followed by `#`. Tests/browser/fleet-page.sh renders it in headless chromium.
let fleetPageHTML: String = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeagent fleet</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; color: #222; margin: 16px 24px; max-width: 1200px; }
h1 { font-size: 18px; margin: 0 0 6px; }
h2 { font-size: 15px; margin: 22px 0 6px; }
.totals { font-size: 15px; }
.totals b { font-variant-numeric: tabular-nums; }
.sep { color: #999; margin: 0 6px; }
.meta { color: #555; font-size: 13px; margin-top: 4px; }
#error { color: #b00020; font-weight: 600; }
.row { display: flex; align-items: center; gap: 12px; margin: 4px 0; }
.label { flex: 0 0 360px; font-variant-numeric: tabular-nums; }
.track { flex: 1; display: flex; height: 18px; background: #eee; border: 1px solid #ccc; }
.seg { height: 100%; }
.converged { background: #2e7d32; }
.failed { background: #c62828; }
.stale { background: #f9a825; }
.key { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; white-space: nowrap; }
th.num { text-align: right; }
#stale-hosts { width: auto; min-width: 50%; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.host { font-family: ui-monospace, monospace; white-space: nowrap; }
ul { margin: 0; padding-left: 16px; }
.pid { font-family: ui-monospace, monospace; font-weight: 600; }
.badge { color: #b00020; font-size: 12px; margin-left: 6px; }
.none { color: #777; }
</style>
</head>
<body>
<h1>edgeagent fleet</h1>
<div class="totals">
<b id="hosts">-</b> hosts<span class="sep">|</span>
<b id="converged">-</b> converged<span class="sep">|</span>
<b id="failed">-</b> failed<span class="sep">|</span>
<b id="stale">-</b> stale<span class="sep">|</span>
<b id="behind">-</b> behind<span class="sep">|</span>
newest serial <b id="newest-serial">-</b><span class="sep">|</span>
reports <b id="reports-received">-</b> received, <b id="reports-refused">-</b> refused<span class="sep">|</span>
<b id="key-changes">-</b> key changes
</div>
<div class="meta"><span id="updated">not loaded yet</span> <span id="error"></span></div>

<h2>Rollout by serial</h2>
<div class="meta">Bar length: share of the fleet on that serial.
<span class="key converged"></span>converged <span class="key failed"></span>failed <span class="key stale"></span>stale</div>
<div id="serials"></div>

<h2>Failing hosts <span id="failing-count" class="meta"></span></h2>
<table id="failing-hosts">
<thead><tr><th>host</th><th class="num">serial</th><th class="num">age</th><th>failed promises</th><th>crash-looping</th><th>pull error</th></tr></thead>
<tbody></tbody>
</table>

<h2>Stale hosts <span id="stale-count" class="meta"></span></h2>
<table id="stale-hosts">
<thead><tr><th>host</th><th class="num">serial</th><th>last report</th></tr></thead>
<tbody></tbody>
</table>

<script>
"use strict";
// The collector's fleet page: fetches /fleet and the failing and stale host lists every 5 s and
// redraws. Data from the collector reaches the DOM only as textContent, never as markup.
var REFRESH_MS = 5000, TIMEOUT_MS = 4000;
var lastGood = null;

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function num(v) { return typeof v === "number" && isFinite(v) ? String(v) : "?"; }
function str(v) { return v === undefined || v === null ? "" : String(v); }
function list(v) { return Array.isArray(v) ? v : []; }
function clock(d) { return d.toLocaleTimeString([], { hour12: false }); }
function age(s) {
  if (typeof s !== "number" || !isFinite(s)) return "?";
  s = Math.max(0, Math.floor(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor(s % 86400 / 3600) + " h";
}
function stamp(unix) { return typeof unix === "number" ? new Date(unix * 1000).toLocaleString([], { hour12: false }) : ""; }

function getJSON(path) {
  var ctl = new AbortController();
  var t = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
  return fetch(path, { cache: "no-store", signal: ctl.signal }).then(function (r) {
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }, function (e) {
    throw new Error(path + ": " + (e.name === "AbortError" ? "timed out" : e.message));
  }).finally(function () { clearTimeout(t); });
}

function renderTotals(f) {
  var ids = { "hosts": f.hosts, "converged": f.converged, "failed": f.failed, "stale": f.stale,
    "behind": f.behind, "newest-serial": f.newest_serial, "reports-received": f.reports_received,
    "reports-refused": f.reports_refused, "key-changes": f.key_changes };
  Object.keys(ids).forEach(function (id) { document.getElementById(id).textContent = num(ids[id]); });
  document.title = "fleet: " + num(f.converged) + "/" + num(f.hosts) + " converged, " +
    num(f.failed) + " failed, " + num(f.stale) + " stale";
}

function renderSerials(f) {
  var box = document.getElementById("serials"), rows = [];
  var fleet = typeof f.hosts === "number" && f.hosts > 0 ? f.hosts : 0;
  list(f.serials).forEach(function (s) {
    var row = el("div", "row");
    row.setAttribute("data-serial", num(s.serial));
    row.appendChild(el("span", "label", "serial " + num(s.serial) + ": " + num(s.converged) + " converged, " +
      num(s.failed) + " failed, " + num(s.stale) + " stale of " + num(s.hosts)));
    var track = el("div", "track");
    ["converged", "failed", "stale"].forEach(function (k) {
      var n = typeof s[k] === "number" ? s[k] : 0;
      if (n <= 0 || fleet === 0) return;
      var seg = el("div", "seg " + k);
      seg.style.width = (100 * n / fleet) + "%";
      seg.title = n + " " + k;
      track.appendChild(seg);
    });
    row.appendChild(track);
    rows.push(row);
  });
  if (rows.length === 0) rows.push(el("div", "none", "no reports yet"));
  box.replaceChildren.apply(box, rows);
}

function hostCell(h) {
  var td = el("td", "host", str(h.host_id));
  td.title = str(h.version) + " " + str(h.target);
  if (h.key_changed) td.appendChild(el("span", "badge", "key changed"));
  return td;
}

function renderFailing(d) {
  var tbody = document.querySelector("#failing-hosts tbody"), rows = [];
  list(d.hosts).forEach(function (h) {
    var tr = el("tr");
    tr.setAttribute("data-host", str(h.host_id));
    tr.appendChild(hostCell(h));
    tr.appendChild(el("td", "num", num(h.serial)));
    tr.appendChild(el("td", "num", age(h.age_seconds)));
    var fails = el("td"), ul = el("ul");
    list(h.failures).forEach(function (x) {
      var li = el("li");
      li.appendChild(el("span", "pid", str(x.id)));
      li.appendChild(document.createTextNode(": " + str(x.reason)));
      ul.appendChild(li);
    });
    if (ul.childNodes.length) fails.appendChild(ul);
    tr.appendChild(fails);
    tr.appendChild(el("td", "", list(h.crash_looping).map(str).join(", ")));
    tr.appendChild(el("td", "", str(h.pull_error)));
    rows.push(tr);
  });
  if (rows.length === 0) {
    var tr = el("tr"), td = el("td", "none", "no failing hosts");
    td.colSpan = 6; tr.appendChild(td); rows.push(tr);
  }
  tbody.replaceChildren.apply(tbody, rows);
  document.getElementById("failing-count").textContent = countText(d);
}

function renderStale(d) {
  var tbody = document.querySelector("#stale-hosts tbody"), rows = [];
  list(d.hosts).forEach(function (h) {
    var tr = el("tr");
    tr.setAttribute("data-host", str(h.host_id));
    tr.appendChild(hostCell(h));
    tr.appendChild(el("td", "num", num(h.serial)));
    var td = el("td", "", age(h.age_seconds) + " ago");
    td.title = stamp(h.last_report);
    tr.appendChild(td);
    rows.push(tr);
  });
  if (rows.length === 0) {
    var tr = el("tr"), td = el("td", "none", "no stale hosts");
    td.colSpan = 3; tr.appendChild(td); rows.push(tr);
  }
  tbody.replaceChildren.apply(tbody, rows);
  document.getElementById("stale-count").textContent = countText(d);
}

function countText(d) {
  var n = list(d.hosts).length, total = typeof d.total === "number" ? d.total : n;
  return total > n ? "(" + total + ", first " + n + " shown)" : "(" + total + ")";
}

function refresh() {
  Promise.all([getJSON("fleet"), getJSON("fleet/hosts?failed=1"), getJSON("fleet/hosts?stale=1")])
    .then(function (r) {
      renderTotals(r[0]); renderSerials(r[0]); renderFailing(r[1]); renderStale(r[2]);
      lastGood = new Date();
      document.getElementById("updated").textContent = "updated " + clock(lastGood) +
        (typeof r[0].generated_at === "number" ? " (collector time " + stamp(r[0].generated_at) + ")" : "");
      document.getElementById("error").textContent = "";
    })
    .catch(function (e) {
      document.getElementById("error").textContent = "refresh failed at " + clock(new Date()) + ": " +
        e.message + (lastGood ? "; showing data from " + clock(lastGood) : "");
    })
    .finally(function () { setTimeout(refresh, REFRESH_MS); });
}
refresh();
</script>
</body>
</html>
"""#
