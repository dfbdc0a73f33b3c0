import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// The teams' bundles, after the baseline's in each round, from the upstream that answered it:
/// `teams/NAME/bundle.json` for each team the baseline in force delegates to, with its own
/// ETag (a relay answers 304 for a team unchanged). A team that has published nothing yet (404)
/// or whose upstream fails is skipped until the next round; a refused team bundle is recorded
/// once per upstream and reason, and that team's held bundle stays in force. One long-poll
/// covers all of them: the baseline's request says what this agent holds of each team
/// (`teams=NAME:SERIAL,...`) and the relay wakes it when any is newer (Relay.swift).
/// What a puller knows of one team: the bundle held, and the serial upstreams advertise.
struct TeamHeld {
  var name: String
  var serial: UInt64 = 0
  var digest = Digest.zero
  /// The newest serial an upstream said it holds (`X-Edge-Teams`), and one this agent failed
  /// to take from it.
  var advertised: UInt64 = 0
  var unusable: UInt64 = 0
}

extension Puller {
  /// Each team bundle held, name and serial, in name order (/metrics).
  public var teamSerialsHeld: [(team: String, serial: UInt64)] {
    var out: [(team: String, serial: UInt64)] = []
    for t in teams where t.serial > 0 { out.append((t.name, t.serial)) }
    return out
  }

  /// The index of `name` in `teams`, added when absent.
  func teamIndex(_ name: String) -> Int {
    if let i = teams.firstIndex(where: { $0.name == name }) { return i }
    teams.append(TeamHeld(name: name))
    return teams.count - 1
  }

  /// `teams=payments:17,web:0` for the long-poll: every delegated team, held or not.
  var teamsParameter: String {
    var s = ""
    for t in delegatedTeams { s += (s.isEmpty ? "" : ",") + t + ":" + String(teams[teamIndex(t)].serial) }
    return s
  }

  /// Whether an upstream's `X-Edge-Teams` (its held teams, `NAME:SERIAL,...`) holds a team
  /// newer than ours: its long-poll then ended early for a reason.
  ///
  /// A serial this agent already failed to take from it (refused, or never delivered) does not
  /// count: an upstream that advertises a team bundle it cannot serve, or one this agent
  /// refuses, would otherwise end every poll at once and draw a request per round trip.
  func upstreamHasNewerTeam(_ header: String?) -> Bool {
    guard let header else { return false }
    var newer = false
    for item in header.utf8.split(separator: UInt8(ascii: ",")).prefix(256) {
      let parts = item.split(separator: UInt8(ascii: ":"))
      guard parts.count == 2, let serial = UInt64(String(decoding: parts[1], as: UTF8.self)) else { continue }
      let name = String(decoding: parts[0], as: UTF8.self)
      guard delegatedTeams.contains(name) else { continue }
      let i = teamIndex(name)
      guard serial > teams[i].serial else { continue }
      teams[i].advertised = serial
      if teams[i].unusable != serial { newer = true }
    }
    return newer
  }

  /// After a team's turn: an advertised serial this agent still does not hold is not asked
  /// for again by ending polls early (see `upstreamHasNewerTeam`).
  func noteTeamTurn(_ team: String) {
    let i = teamIndex(team)
    if teams[i].serial < teams[i].advertised { teams[i].unusable = teams[i].advertised }
  }

  /// Reads each held team's serial and digest, and the delegated teams, from the state.
  func loadTeams() {
    do throws(StoreError) {
      delegatedTeams = try loadAcceptedBundle(env)?.delegations.map { $0.team } ?? []
      let txn = try env.read()
      for (name, r) in try txn.teams() {
        let i = teamIndex(name)
        teams[i].serial = r.serial
        teams[i].digest = r.digest
      }
      txn.abort()
    } catch {
      log("error", "unable to read the teams held", [("err", .string(error.description))])
    }
  }

  /// Each delegated team from `u` in turn, then `done`.
  func pullTeams(from u: UpstreamURL, _ i: Int = 0, _ done: @escaping () -> Void) {
    guard running, i < delegatedTeams.count else { done(); return }
    let team = delegatedTeams[i]
    let next = { [unowned(unsafe) self] in
      self.noteTeamTurn(team)
      self.pullTeams(from: u, i + 1, done)
    }
    if u.scheme == .file { pullTeamFile(u, team); next(); return }
    var o = HTTPExchange.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = PolicyBundle.maxBytes
    let key = u.description + " " + team
    if let tag = etags[key] { o.headers.append(HTTPHeader("If-None-Match", tag)) }
    get(u, u.path(of: "teams/" + team + "/bundle.json"), o) { [unowned(unsafe) self] r in
      switch r {
      case .failure(let e):
        self.stats.failures += 1
        self.stats.lastError = "\(u): team \(team): \(e)"
        next()
      case .success(let resp):
        // 404: the team has published nothing (yet), here.
        if resp.status == 304 || resp.status == 404 { next(); return }
        guard resp.status == 200 else {
          self.stats.failures += 1
          self.stats.lastError = "\(u): HTTP \(resp.status) for team \(team)'s bundle.json"
          next()
          return
        }
        let etag = resp.headers.value("etag")
        if SHA256.hash(resp.body) == self.teams[self.teamIndex(team)].digest {
          if let etag { self.etags[key] = etag }
          next()
          return
        }
        self.fetchTeamSignature(u, team, resp.body, etag: etag, next)
      }
    }
  }

  func fetchTeamSignature(_ u: UpstreamURL, _ team: String, _ bytes: [UInt8], etag: String?, _ next: @escaping () -> Void) {
    var o = HTTPExchange.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = 1024
    get(u, u.path(of: "teams/" + team + "/bundle.json.sig"), o) { [unowned(unsafe) self] r in
      guard case .success(let resp) = r, resp.status == 200 else {
        self.stats.failures += 1
        self.stats.lastError = "\(u): no signature for team \(team)'s bundle.json"
        next()
        return
      }
      let c: TeamCandidate
      do throws(BundleError) {
        c = try checkTeamCandidate(self.env, team: team, bytes: bytes, signature: resp.body, now: wallClockSeconds(), root: self.config.root)
      } catch {
        self.teamRefused(u, team, error, etag: etag)
        next()
        return
      }
      self.fetchTeamBlobs(u, c, c.missing, [], etag: etag, next)
    }
  }

  func fetchTeamBlobs(_ u: UpstreamURL, _ c: TeamCandidate, _ rest: [BundleBlob], _ got: [(BundleBlob, [UInt8])],
                      etag: String?, _ next: @escaping () -> Void) {
    guard let b = rest.first else {
      do throws(BundleError) {
        let f = try commitTeamCandidate(env, c, fetched: got, now: wallClockSeconds())
        if let etag { etags[u.description + " " + c.team] = etag }
        teamAccepted(c, f, from: u)
      } catch {
        teamRefused(u, c.team, error, etag: etag)
      }
      next()
      return
    }
    var o = HTTPExchange.Options()
    o.idleMs = config.idleTimeoutMs
    o.limits.maxBodyBytes = Int(b.size)
    get(u, u.path(of: "blobs/" + b.digest.hex), o) { [unowned(unsafe) self] r in
      guard case .success(let resp) = r, resp.status == 200 else {
        self.stats.failures += 1
        self.stats.lastError = "\(u): blob \(b.digest.hex) of team \(c.team)"
        next()
        return
      }
      do throws(BundleRejection) { try checkBlob(b, resp.body) } catch {
        self.teamRefused(u, c.team, .rejected(error), etag: etag)
        next()
        return
      }
      self.fetchTeamBlobs(u, c, Array(rest.dropFirst()), got + [(b, resp.body)], etag: etag, next)
    }
  }

  /// A `file://` upstream: DIR/teams/NAME/, read and accepted synchronously.
  func pullTeamFile(_ u: UpstreamURL, _ team: String) {
    let d = BundleDirectory(u.path + "/teams/" + team)
    let blobs = BundleDirectory(u.path)
    let bytes: [UInt8], sig: [UInt8]
    do throws(HostError) {
      guard try FileStat.following(d.path + "/bundle.json") != nil else { return }
      bytes = try d.readBundle()
      if SHA256.hash(bytes) == teams[teamIndex(team)].digest { return }
      sig = try d.readSignature()
    } catch {
      stats.lastError = "\(u): team \(team): \(error)"
      return
    }
    do throws(BundleError) {
      let c = try checkTeamCandidate(env, team: team, bytes: bytes, signature: sig, now: wallClockSeconds(), root: config.root)
      var fetched: [(BundleBlob, [UInt8])] = []
      for b in c.missing { fetched.append((b, try blobs.readBlob(b))) }
      teamAccepted(c, try commitTeamCandidate(env, c, fetched: fetched, now: wallClockSeconds()), from: u)
    } catch {
      teamRefused(u, team, error, etag: nil)
    }
  }

  func teamAccepted(_ c: TeamCandidate, _ f: PolicyInForce, from u: UpstreamURL) {
    let i = teamIndex(c.team)
    teams[i].serial = c.bundle.serial
    teams[i].digest = c.digest
    stats.teamsAccepted += 1
    log("info", "team bundle accepted", [("team", .string(c.team)), ("serial", .int(Int(c.bundle.serial))),
                                         ("promises", .int(c.bundle.policy.promises.count)), ("from", .string(u.description))])
    onTeamAccepted(f)
  }

  /// As `refused`, per team: a bundle no newer than the held one is just "unchanged".
  func teamRefused(_ u: UpstreamURL, _ team: String, _ e: BundleError, etag: String?) {
    guard case .rejected(let r) = e else {
      log("error", "unable to accept a team bundle", [("team", .string(team)), ("from", .string(u.description)), ("err", .string(e.description))])
      return
    }
    if case .notNewer(let offered, let held) = r, offered == held {
      if let etag { etags[u.description + " " + team] = etag }
      return
    }
    stats.rejected += 1
    let key = u.description + " " + team
    let what = "\(r.code) \(r)"
    if lastRefusal[key] == what { return }
    lastRefusal[key] = what
    log("warn", "team bundle rejected, keeping the team's last good one", [("team", .string(team)), ("from", .string(u.description)),
                                                                         ("reason", .string(r.code)), ("err", .string(r.description))])
    do throws(StoreError) { try recordRejection(env, r, source: "team \(team) from \(u)", now: wallClockSeconds()) } catch {
      log("error", "unable to record a bundle rejection", [("reason", .string(r.code)), ("err", .string(error.description))])
    }
  }
}
