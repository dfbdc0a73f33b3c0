import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// One upstream: the bundle fetched (over HTTP, long-polled, or from a file), checked, its
/// missing blobs fetched, and accepted.
extension Puller {
  func pull(from u: UpstreamURL, _ done: @escaping (Answer) -> Void) {
    if u.scheme == .file { done(pullFile(u)); return }
    var o = HTTPExchange.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = PolicyBundle.maxBytes
    o.connected = { [unowned(unsafe) self] in self.onReached(u) }
    var path = u.path(of: "bundle.json")
    if config.longPollSeconds > 0 {
      path += "?wait=\(config.longPollSeconds)&have=\(heldSerial)"
      if !delegatedTeams.isEmpty { path += "&teams=" + teamsParameter }
      o.deadlineMs = UInt64(config.longPollSeconds) * 1000 + 15_000
      o.idleMs = max(o.idleMs, UInt64(config.longPollSeconds) * 1000 + 5_000)
    }
    let key = u.description
    if let tag = etags[key] { o.headers.append(HTTPHeader("If-None-Match", tag)) }
    loop.updateTime()
    let askedAt = loop.now
    get(u, path, o) { [unowned(unsafe) self] r in
      switch r {
      case .failure(let e): done(.failed(e.description))
      case .success(let resp):
        let longPoll = resp.headers.value("x-edge-long-poll") != nil
        self.upstreamLongPolls = longPoll
        // "Unchanged" under the long-poll header before half the wait: the relay did not hold
        // the poll. Taken as said, the next round starts at once (37 requests/s against a
        // hostile relay, pinned on the old bundle); as a failure, the round moves on to the
        // next upstream (the origin last) and a round that gets nothing better backs off.
        func unchanged() {
          self.loop.updateTime()
          // A relay that holds a team bundle newer than ours ended the poll for it.
          if longPoll && self.config.longPollSeconds > 0
            && self.loop.now - askedAt < UInt64(self.config.longPollSeconds) * 500
            && !self.upstreamHasNewerTeam(resp.headers.value("x-edge-teams")) {
            self.upstreamLongPolls = false
            self.stats.unheldLongPolls += 1
            done(.failed("unchanged at once under a long-poll (held \(self.loop.now - askedAt) ms of \(self.config.longPollSeconds) s)"))
          } else {
            done(.unchanged(longPoll: longPoll))
          }
        }
        if resp.status == 304 { unchanged(); return }
        guard resp.status == 200 else { done(.failed("HTTP \(resp.status) for bundle.json")); return }
        if SHA256.hash(resp.body) == self.heldDigest {
          if let tag = resp.headers.value("etag") { self.etags[key] = tag }
          unchanged()
          return
        }
        self.fetchSignature(u, resp.body, etag: resp.headers.value("etag"), done)
      }
    }
  }

  func get(_ u: UpstreamURL, _ path: String, _ options: HTTPExchange.Options, _ done: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
    var o = options
    o.resolver = config.resolver
    current = HTTPExchange(loop, host: u.host, port: u.port, path: path, options: o) { [unowned(unsafe) self] r in
      self.current = nil
      done(r)
    }
  }

  func fetchSignature(_ u: UpstreamURL, _ bytes: [UInt8], etag: String?, _ done: @escaping (Answer) -> Void) {
    var o = HTTPExchange.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = 1024
    get(u, u.path(of: "bundle.json.sig"), o) { [unowned(unsafe) self] r in
      switch r {
      case .failure(let e): done(.failed("bundle.json.sig: \(e)"))
      case .success(let resp):
        guard resp.status == 200 else { done(.failed("HTTP \(resp.status) for bundle.json.sig")); return }
        let c: BundleCandidate
        do throws(BundleError) {
          c = try checkCandidate(self.env, bytes: bytes, signature: resp.body, trustedKeys: self.config.trustedKeys,
                                 now: wallClockSeconds(), agentTarget: self.config.isRelay ? nil : self.config.agentTarget)
        } catch {
          done(self.refused(u, error, etag: etag))
          return
        }
        self.fetchBlobs(u, c, c.missing, [], etag: etag, done)
      }
    }
  }

  func fetchBlobs(_ u: UpstreamURL, _ c: BundleCandidate, _ rest: [BundleBlob], _ got: [(BundleBlob, [UInt8])],
                  etag: String?, _ done: @escaping (Answer) -> Void) {
    guard let b = rest.first else {
      do throws(BundleError) {
        let accepted = try commitCandidate(env, c, fetched: got, now: wallClockSeconds())
        if let etag { etags[u.description] = etag }
        done(.accepted(accepted))
      } catch {
        done(refused(u, error, etag: etag))
      }
      return
    }
    var o = HTTPExchange.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = Int(b.size)
    get(u, u.path(of: "blobs/" + b.digest.hex), o) { [unowned(unsafe) self] r in
      switch r {
      case .failure(let e):
        if case .parse(let pe) = e, pe.kind == .bodyTooLarge {
          done(self.refused(u, .rejected(.blobMismatch(b.digest, "larger than its listed \(b.size) bytes")), etag: etag))
        } else {
          done(.failed("blob \(b.digest.hex): \(e)"))
        }
      case .success(let resp):
        guard resp.status == 200 else { done(.failed("HTTP \(resp.status) for blob \(b.digest.hex)")); return }
        do throws(BundleRejection) { try checkBlob(b, resp.body) } catch {
          done(self.refused(u, .rejected(error), etag: etag))
          return
        }
        self.fetchBlobs(u, c, Array(rest.dropFirst()), got + [(b, resp.body)], etag: etag, done)
      }
    }
  }

  /// A refusal: logged and recorded (once per upstream and reason), the round moves on. A
  /// bundle equal to the held serial is just "unchanged" (an upstream serving the same bundle).
  func refused(_ u: UpstreamURL, _ e: BundleError, etag: String?) -> Answer {
    guard case .rejected(let r) = e else {
      log("error", "unable to accept a bundle", [("from", .string(u.description)), ("err", .string(e.description))])
      return .failed(e.description)
    }
    if case .notNewer(let offered, let held) = r, offered == held {
      if let etag { etags[u.description] = etag }
      return .unchanged(longPoll: false)
    }
    stats.rejected += 1
    let key = u.description
    let what = "\(r.code) \(r)"
    if lastRefusal[key] != what {
      lastRefusal[key] = what
      log("warn", "bundle rejected, keeping the last good one", [("from", .string(key)), ("reason", .string(r.code)), ("err", .string(r.description))])
      do throws(StoreError) { try recordRejection(env, r, source: key, now: wallClockSeconds()) } catch {
        log("error", "unable to record a bundle rejection", [("reason", .string(r.code)), ("err", .string(error.description))])
      }
    }
    return .failed("bundle rejected: \(r)")
  }

  /// A `file://` upstream (offline media): read and accept synchronously.
  func pullFile(_ u: UpstreamURL) -> Answer {
    let d = BundleDirectory(u.path)
    let bytes: [UInt8], sig: [UInt8]
    do throws(HostError) {
      bytes = try d.readBundle()
      // Read whole, like an HTTP body: the heap it leaves is trimmed when the round ends.
      TransientBuffers.note(bytes.count)
      if SHA256.hash(bytes) == heldDigest { return .unchanged(longPoll: false) }
      sig = try d.readSignature()
    } catch { return .failed(error.description) }
    do throws(BundleError) {
      let b = try acceptBundle(env, bytes: bytes, signature: sig, trustedKeys: config.trustedKeys, now: wallClockSeconds()) {
        (blob) throws(BundleError) -> [UInt8] in
        TransientBuffers.note(Int(blob.size))
        return try d.readBlob(blob)
      }
      return .accepted(b)
    } catch {
      return refused(u, error, etag: nil)
    }
  }

  /// Reports, once per held serial, a bundle in force past its `expires`: the agent keeps
  /// converging to it (the last good one), but an operator must learn that nothing newer came.
  func checkExpiry() {
    guard heldSerial > 0, heldExpires > 0, !stats.heldExpired else { return }
    let now = wallClockSeconds()
    guard now >= heldExpires else { return }
    stats.heldExpired = true
    log("warn", "the bundle in force has expired; keeping it until a newer one is accepted",
        [("serial", .int(Int(heldSerial))), ("expires", .int(Int(heldExpires))), ("err", .string(stats.lastError))])
    do throws(StoreError) { try recordExpiry(env, serial: heldSerial, expires: heldExpires, now: now) } catch {
      log("error", "unable to record the expiry of the bundle in force", [("err", .string(error.description))])
    }
  }

  /// A relay logs its place in the relay tree when a bundle moves it.
  func notePlace() {
    guard config.isRelay, !relays.isEmpty else { return }
    if let me = config.relayURL, let i = relays.firstIndex(of: me) {
      let a = RelayTree.ancestors(of: i, fanout: relayFanout)
      let now = a.first.map { relays[$0].description } ?? "origins"
      if now != place {
        log("info", "relay tree", [("index", .int(i)), ("tier", .int(a.count)), ("fanout", .int(relayFanout)),
                                   ("pulls_from", .string(now))])
      }
      place = now
    } else {
      if place != "unlisted" {
        log("warn", "this relay is not among the bundle's relays: pulling from the origins only",
            [("relay_url", .string(config.relayURL?.description ?? "none (set relay_url)"))])
      }
      place = "unlisted"
    }
  }

  /// Records reachability in meta when it changes, not on every round: an unchanged bundle
  /// costs one 304 and no write, yet `status` can say since when the upstreams are reachable
  /// or unreachable, and when one last answered.
  func noteReachable(_ ok: Bool) {
    if reachable == ok { return }
    reachable = ok
    let record = ReachabilityRecord(reachable: ok, since: wallClockSeconds(), lastContact: stats.lastContact,
                                    lastError: ok ? "" : stats.lastError)
    do throws(StoreError) {
      try env.withWrite { (txn) throws(StoreError) in try txn.setReachability(record) }
    } catch {
      log("warn", "unable to record upstream reachability", [("err", .string(error.description))])
    }
  }
}
