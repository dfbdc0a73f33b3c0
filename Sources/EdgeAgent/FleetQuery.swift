import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore

/// `edgeagent fleet`'s work (issue 16): the collector's view, asked over HTTP or read from its
/// state directly; the text and the JSON are the collector's own (FleetView), so both ways
/// say the same.
public enum FleetQueryError: Error, CustomStringConvertible {
  case url(String)
  case http(String, String)
  case store(StoreError)

  public var description: String {
    switch self {
    case .url(let u): return "\"\(u)\": expected http://HOST[:PORT][/PATH]"
    case .http(let path, let why): return "\(path): \(why)"
    case .store(let e): return e.description
    }
  }
}

/// What `fleet` prints: `/fleet.txt`, or with `json` the object of `/fleet` and the failed and
/// stale hosts; and whether every host is converged (none failed, none stale).
public struct FleetAnswer {
  public var output: String
  public var allConverged: Bool
}

/// Reads the fleet from a collector's state (on its box; read-only, so beside a running collector).
public func fleetAnswer(stateDir: String, json: Bool, now: Int64) throws(FleetQueryError) -> FleetAnswer {
  do {
    let env = try Environment(path: stateDir, readOnly: true)
    let s = try FleetView.summary(env, now: now)
    let ok = s.failed == 0 && s.stale == 0
    guard json else { return FleetAnswer(output: try FleetView.text(env, s, now: now), allConverged: ok) }
    var failed = FleetView.Query(), stale = FleetView.Query()
    failed.failed = true
    stale.stale = true
    let out = "{\"fleet\": " + FleetView.summaryJSON(s, now: now, received: 0, refused: 0) + ", \"failed\": "
      + (try FleetView.hostsJSON(env, now: now, failed)) + ", \"stale\": " + (try FleetView.hostsJSON(env, now: now, stale)) + "}\n"
    return FleetAnswer(output: out, allConverged: ok)
  } catch { throw .store(error) }
}

/// Asks a collector at `url`, one request after another, each within `timeoutMs`.
public func fleetAnswer(url text: String, json: Bool, timeoutMs: UInt64 = 10_000) throws(FleetQueryError) -> FleetAnswer {
  guard let u = UpstreamURL(text), u.scheme == .http else { throw .url(text) }
  let loop = Loop()
  var bodies: [String] = []
  var converged = false
  var failure: FleetQueryError? = nil
  for path in json ? ["fleet", "fleet/hosts?failed=1", "fleet/hosts?stale=1"] : ["fleet.txt"] {
    var o = HTTPExchange.Options()
    o.deadlineMs = timeoutMs
    o.limits.maxBodyBytes = 64 << 20
    HTTPExchange(loop, host: u.host, port: u.port, path: u.path(of: path), options: o) { r in
      switch r {
      case .success(let resp) where resp.status == 200:
        if bodies.isEmpty { converged = resp.headers.value("x-edge-all-converged") == "1" }
        bodies.append(String(decoding: resp.body, as: UTF8.self))
      case .success(let resp): failure = .http("/" + path, "HTTP \(resp.status): " + String(decoding: resp.body.prefix(200), as: UTF8.self))
      case .failure(let e): failure = .http("/" + path, e.description)
      }
    }
    loop.run()
    if let failure { throw failure }
  }
  let out = json ? "{\"fleet\": " + bodies[0] + ", \"failed\": " + bodies[1] + ", \"stale\": " + bodies[2] + "}\n" : bodies[0]
  return FleetAnswer(output: out, allConverged: converged)
}
