import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore

/// `edgeagent fleet`'s work (issue 16): the collector's three documents (`/fleet`, and the
/// failed and stale hosts of `/fleet/hosts`), from its URL or read from its state directly, and
/// their text for an operator. Both ways give the same JSON, so the text is made from JSON once.
public struct FleetDocuments {
  public var fleet: [UInt8]
  public var failed: [UInt8]
  public var stale: [UInt8]
}

public enum FleetQueryError: Error, CustomStringConvertible {
  case url(String)
  case http(String, String)
  case store(StoreError)
  case json(String, JSONError)

  public var description: String {
    switch self {
    case .url(let u): return "\"\(u)\": expected http://HOST[:PORT][/PATH]"
    case .http(let path, let why): return "\(path): \(why)"
    case .store(let e): return e.description
    case .json(let path, let e): return "\(path): not the collector's JSON (\(e.position.line):\(e.position.column): \(e.message))"
    }
  }
}

/// Reads the fleet from a collector's state (on its box; read-only, so beside a running collector).
public func fleetDocuments(stateDir: String, now: Int64) throws(FleetQueryError) -> FleetDocuments {
  do {
    let env = try Environment(path: stateDir, readOnly: true)
    let s = try FleetView.summary(env, now: now)
    var failed = FleetView.Query(), stale = FleetView.Query()
    failed.failed = true
    stale.stale = true
    return FleetDocuments(fleet: Array(FleetView.summaryJSON(s, now: now, received: 0, refused: 0).utf8),
                          failed: Array(try FleetView.hostsJSON(env, now: now, failed).utf8),
                          stale: Array(try FleetView.hostsJSON(env, now: now, stale).utf8))
  } catch { throw .store(error) }
}

/// Asks a collector at `url` for the three documents, one request after another, each within
/// `timeoutMs`.
public func fleetDocuments(url text: String, timeoutMs: UInt64 = 10_000) throws(FleetQueryError) -> FleetDocuments {
  guard let u = UpstreamURL(text), u.scheme == .http else { throw .url(text) }
  let loop = Loop()
  var bodies: [[UInt8]] = []
  var failure: FleetQueryError? = nil
  for path in ["fleet", "fleet/hosts?failed=1", "fleet/hosts?stale=1"] {
    var o = HTTPExchange.Options()
    o.deadlineMs = timeoutMs
    o.limits.maxBodyBytes = 64 << 20
    HTTPExchange(loop, host: u.host, port: u.port, path: u.path(of: path), options: o) { r in
      switch r {
      case .success(let resp) where resp.status == 200: bodies.append(resp.body)
      case .success(let resp): failure = .http("/" + path, "HTTP \(resp.status): \(String(decoding: resp.body.prefix(200), as: UTF8.self))")
      case .failure(let e): failure = .http("/" + path, e.description)
      }
    }
    loop.run()
    if let failure { throw failure }
  }
  return FleetDocuments(fleet: bodies[0], failed: bodies[1], stale: bodies[2])
}

/// The operator's view: totals, a line per serial, then the failed and the stale hosts; and
/// whether every host is converged (none failed, none stale).
public func fleetText(_ d: FleetDocuments) throws(FleetQueryError) -> (text: String, allConverged: Bool) {
  func parse(_ b: [UInt8], _ name: String) throws(FleetQueryError) -> JSONNode {
    do { return try JSONReader.parse(b) } catch { throw .json(name, error) }
  }
  let f = parse0(try parse(d.fleet, "/fleet"))
  var out = "fleet: \(f["hosts"]) hosts, newest serial \(f["newest_serial"]): \(f["converged"]) converged, "
  out += "\(f["failed"]) failed, \(f["stale"]) stale, \(f["behind"]) behind\n"
  for s in f.list("serials") {
    let r = parse0(s)
    out += "  serial \(r["serial"]): \(r["hosts"]) hosts, \(r["converged"]) converged, \(r["failed"]) failed, \(r["stale"]) stale\n"
  }
  for (title, doc, name) in [("failed", d.failed, "/fleet/hosts?failed=1"), ("stale", d.stale, "/fleet/hosts?stale=1")] {
    let h = parse0(try parse(doc, name))
    let hosts = h.list("hosts")
    guard !hosts.isEmpty else { continue }
    out += "\(title) (\(h["total"])):\n"
    for node in hosts {
      let x = parse0(node)
      out += "  \(escapedText(x.text("host_id")))  serial \(x["serial"])  last report \(duration(Int64(x["age_seconds"]) ?? 0)) ago"
      if x.text("key_changed") == "true" { out += "  KEY CHANGED" }
      out += "\n"
      for fl in x.list("failures") {
        let e = parse0(fl)
        out += "    \(escapedText(e.text("id"))): \(escapedText(e.text("reason")))\n"
      }
      for s in x.list("crash_looping") { out += "    service \(escapedText(s.string ?? "")): crash looping\n" }
      let pe = x.text("pull_error")
      if !pe.isEmpty { out += "    pulls: \(escapedText(pe))\n" }
    }
  }
  return (out, f["failed"] == "0" && f["stale"] == "0")
}

/// A JSON object's members by key, as text (numbers as written, "" when absent).
struct Fields {
  var members: [JSONMember]
  subscript(_ k: String) -> String { text(k) }
  func node(_ k: String) -> JSONNode? {
    for m in members where m.key == k { return m.value }
    return nil
  }
  func text(_ k: String) -> String {
    guard let v = node(k) else { return "" }
    if let s = v.string { return s }
    if let i = v.integer { return String(i) }
    if let b = v.bool { return b ? "true" : "false" }
    return ""
  }
  func list(_ k: String) -> [JSONNode] { node(k)?.array ?? [] }
}

func parse0(_ n: JSONNode) -> Fields { Fields(members: n.members ?? []) }
