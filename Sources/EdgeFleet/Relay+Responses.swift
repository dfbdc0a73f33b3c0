import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// The relay's answers: the bundle, its signature and blobs from LMDB, /metrics and /healthz.
extension Relay {
  /// The serial and digest of the bundle in force, or nil before the first acceptance. A store
  /// failure is an error, never "no bundle yet".
  func held() throws(StoreError) -> (serial: UInt64, digest: Digest)? {
    let txn = try env.read()
    let h = try txn.bundleIdentity()
    txn.abort()
    return h
  }

  /// Writes the response to `req` on `c`.
  func respond(_ req: HTTPRequest, on c: TCPConnection, longPoll: Bool) {
    stats.requests += 1
    let head = req.method == "HEAD"
    let inm = req.headers.value("if-none-match")
    func send(_ status: Int, _ headers: [(String, String)], _ body: UnsafeRawBufferPointer, shared: Bool = false) {
      var h = "HTTP/1.1 \(status) \(reasonPhrase(status))\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
      for (k, v) in headers { h += "\(k): \(v)\r\n" }
      h += "\r\n"
      if status == 304 { stats.notModified += 1 }
      if shared && !head {
        // The head names the bytes (ETag), so an equal head means an equal answer.
        if let sb = inFlight.bytes, inFlight.head == h, sb.pending > 0 {
          inFlight.write(sb, on: c)
          return
        }
        var bytes = Array(h.utf8)
        bytes.append(contentsOf: body)
        let sb = SharedBytes(bytes)
        inFlight.head = h
        inFlight.bytes = sb
        inFlight.write(sb, on: c)
        return
      }
      var bytes = Array(h.utf8)
      if !head && status != 304 { bytes.append(contentsOf: body) }
      c.write(bytes)
    }
    func text(_ status: Int, _ s: String, type: String = "text/plain; charset=utf-8", extra: [(String, String)] = []) {
      let b = Array(s.utf8)
      b.withUnsafeBytes { send(status, [("Content-Type", type), ("Cache-Control", "no-store")] + extra, $0) }
    }
    let path = req.path
    if respondReports(req, on: c, text: { text($0, $1, type: $2, extra: $3) }) { return }
    if req.method != "GET" && req.method != "HEAD" { text(405, "method not allowed\n"); return }
    if path == "/healthz", let health {
      let h = health()
      text(h.ok ? 200 : 503, h.text + "\n")
      return
    }
    if !servesBundles {
      if path == "/metrics" {
        do { text(200, extraMetrics() + (try reportMetrics()), type: "text/plain; version=0.0.4") } catch {
          text(500, "unable to read the state: \(error)\n")
        }
      } else {
        text(404, "not found\n")
      }
      return
    }
    let held: (serial: UInt64, digest: Digest)?
    do { held = try self.held() } catch {
      text(500, "unable to read the state: \(error)\n")
      return
    }
    if path == "/healthz" {
      if let h = held { text(200, "ok serial \(h.serial)\n") } else { text(503, "no bundle accepted yet\n") }
      return
    }
    if path == "/metrics" {
      do { text(200, try metrics(), type: "text/plain; version=0.0.4") } catch {
        text(500, "unable to read the state: \(error)\n")
      }
      return
    }
    guard let h = held else { text(503, "no bundle accepted yet\n"); return }
    if path.hasPrefix("/teams/") {
      respondTeam(path, inm: inm, longPoll: longPoll, send: { send($0, $1, $2, shared: true) }, text: { text($0, $1) })
      return
    }
    var key = MetaKey.bundleJSON
    var etag: String
    var cache = "public, max-age=1"
    var db = Database.meta
    var blobKey: Digest? = nil
    if path == "/bundle.json" {
      key = .bundleJSON
      etag = "\"\(h.digest.hex)\""
    } else if path == "/bundle.json.sig" {
      key = .bundleSignature
      etag = "\"sig-\(h.digest.hex)\""
    } else if path.hasPrefix("/blobs/"), let d = Digest(hex: String(decoding: Array(path.utf8)[7...], as: UTF8.self)) {
      db = .blobs
      blobKey = d
      etag = "\"\(d.hex)\""
      cache = "public, max-age=31536000, immutable"
    } else {
      text(404, "not found\n")
      return
    }
    var headers: [(String, String)] = [("ETag", etag), ("Cache-Control", cache), ("X-Edge-Serial", String(h.serial))]
    if longPoll { headers.append(("X-Edge-Long-Poll", "1")) }
    if path == "/bundle.json", let teams = heldTeamsHeader() { headers.append(("X-Edge-Teams", teams)) }
    if inm == etag {
      send(304, headers, UnsafeRawBufferPointer(start: nil, count: 0))
      return
    }
    headers.append(("Content-Type", db == .blobs ? "application/octet-stream" : (key == .bundleJSON ? "application/json" : "application/octet-stream")))
    var found = false
    do throws(StoreError) {
      let txn = try env.read()
      // Served in place from the map, with no copy.
      if let blobKey {
        found = try blobKey.withBytes { (k) throws(StoreError) -> Bool in
          try txn.value(.blobs, k) { raw -> Bool in
            guard let raw else { return false }
            send(200, headers, raw, shared: true)
            return true
          }
        }
      } else {
        found = try txn.meta(key) { raw -> Bool in
          guard let raw else { return false }
          send(200, headers, raw, shared: true)
          return true
        }
      }
      txn.abort()
    } catch {
      text(500, "unable to read the state: \(error)\n")
      return
    }
    if !found { text(404, "not found\n") } else { stats.served += 1 }
  }

  /// `NAME:SERIAL,...` of the team bundles held, for a long-poll's answer (nil: none, or the
  /// state unreadable: then the child learns of its teams by asking for them).
  func heldTeamsHeader() -> String? {
    let teams = heldTeamSerials()
    if teams.isEmpty { return nil }
    var s = ""
    for t in teams { s += (s.isEmpty ? "" : ",") + t.team + ":" + String(t.serial) }
    return s
  }

  /// The team serials held, for the long-poll's comparison.
  func heldTeamSerials() -> [(team: String, serial: UInt64)] {
    var out: [(team: String, serial: UInt64)] = []
    do throws(StoreError) {
      let txn = try env.read()
      out = try txn.teamSerials()
      txn.abort()
    } catch {}
    return out
  }

  /// `/teams/NAME/bundle.json` and `.sig`: a team's bundle as this agent accepted it.
  func respondTeam(_ path: String, inm: String?, longPoll: Bool, send: (Int, [(String, String)], UnsafeRawBufferPointer) -> Void,
                   text: (Int, String) -> Void) {
    let parts = path.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
    guard parts.count == 3, Delegation.nameProblem(parts[1]) == nil, parts[2] == "bundle.json" || parts[2] == "bundle.json.sig" else {
      text(404, "not found\n")
      return
    }
    let record: TeamRecord?
    do throws(StoreError) {
      let txn = try env.read()
      record = try txn.team(parts[1])
      txn.abort()
    } catch {
      text(500, "unable to read the state: \(error)\n")
      return
    }
    guard let record else { text(404, "team \(parts[1]) has no bundle here\n"); return }
    let sig = parts[2] == "bundle.json.sig"
    let etag = sig ? "\"sig-\(record.digest.hex)\"" : "\"\(record.digest.hex)\""
    let headers: [(String, String)] = [("ETag", etag), ("Cache-Control", "public, max-age=1"), ("X-Edge-Serial", String(record.serial)),
                                       ("Content-Type", sig ? "application/octet-stream" : "application/json")]
    if inm == etag { send(304, headers, UnsafeRawBufferPointer(start: nil, count: 0)); return }
    stats.served += 1
    (sig ? record.signature : record.bytes).withUnsafeBytes { send(200, headers, $0) }
  }

  /// The relay's figures, then `extraMetrics` (the daemon's, which count the promises).
  func metrics() throws(StoreError) -> String {
    let h = try held()
    var m = MetricsText()
    m.single("edgeagent_bundle_serial", "gauge", "Serial of the bundle in force (0: none).", String(h?.serial ?? 0))
    do {
      let txn = try env.read()
      let accepted = try txn.bundleAcceptedAt() ?? 0
      txn.abort()
      m.single("edgeagent_bundle_accepted_timestamp_seconds", "gauge", "When the bundle in force was accepted.", String(accepted))
    }
    m.single("edgeagent_relay_requests_total", "counter", "Requests answered by the relay.", String(stats.requests))
    m.single("edgeagent_relay_not_modified_total", "counter", "Relay answers that were 304 Not Modified.", String(stats.notModified))
    m.single("edgeagent_relay_connections", "gauge", "Open relay connections.", String(connections.count))
    m.single("edgeagent_relay_long_polls", "gauge", "Long-poll requests being held.", String(waiters.count))
    m.single("edgeagent_relay_refused_connections_total", "counter", "Connections closed at accept (over the limit).",
             String(stats.refusedConnections))
    m.single("edgeagent_relay_polls_over_peer_limit_total", "counter", "Long-polls answered at once: their address held its share.",
             String(stats.pollsOverPeerLimit))
    m.single("edgeagent_relay_evicted_polls_total", "counter", "Held long-polls closed to make room on a full relay.",
             String(stats.evictedPolls))
    m.single("edgeagent_relay_bad_requests_total", "counter", "Requests refused as malformed, too large or too slow.",
             String(stats.badRequests))
    m.append(try reportMetrics())
    m.append(extraMetrics())
    return m.text
  }
}
