import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise

/// The daemon's side of DESIGN.md §8: the puller when `upstreams` are configured, the relay
/// when `relay` (or `--relay`) is set. An accepted bundle wakes the relay's long-polls and puts
/// the bundle's policy in force through `replacePolicy`; with every upstream down, the daemon
/// keeps converging from the last accepted policy in the state.
extension Daemon {
  /// What `upstreams`, `trusted_keys` and `relay` mean, checked before the daemon starts.
  struct BundleSettings {
    var origins: [UpstreamURL] = []
    var keys: [[UInt8]] = []
    var relay: (address: String, port: UInt16)? = nil
    var relayURL: UpstreamURL? = nil
  }

  /// Errors (`.input`): an upstream that is not http:// or file://, a trusted key that is
  /// neither 64 hex digits nor a readable public key file, upstreams without any trusted key,
  /// a relay that is not IPv4-ADDR:PORT, a relay_url that is not http://HOST:PORT or comes
  /// without a relay.
  static func bundleSettings(_ config: DaemonConfig) throws(AgentError) -> BundleSettings {
    var s = BundleSettings()
    for u in config.upstreams {
      guard let url = UpstreamURL(u) else { throw .input("upstream \"\(u)\": expected http://HOST[:PORT][/PATH] or file:///DIR") }
      s.origins.append(url)
    }
    for k in config.trustedKeys {
      if let key = Ed25519.parseKey(k, bytes: Ed25519.publicKeyBytes) { s.keys.append(key); continue }
      do { s.keys.append(try Ed25519.readKeyFile(k, bytes: Ed25519.publicKeyBytes)) } catch {
        throw .input("trusted key \"\(k)\": neither 64 hex digits nor a public key file (\(error))")
      }
    }
    if !s.origins.isEmpty && s.keys.isEmpty { throw .input("upstreams are set but no trusted_keys: no bundle could be accepted") }
    if let r = config.relay {
      guard let a = listenAddress(r) else { throw .input("relay \"\(r)\": expected IPv4-ADDRESS:PORT, e.g. 0.0.0.0:7070") }
      s.relay = a
    }
    if let u = config.relayURL {
      guard let url = UpstreamURL(u), url.scheme == .http else { throw .input("relay_url \"\(u)\": expected http://HOST:PORT") }
      guard s.relay != nil else { throw .input("relay_url \"\(u)\" is set but relay is not: this agent serves no relay") }
      s.relayURL = url
    }
    return s
  }

  /// Starts the relay and the puller (at daemon start, after the policy in force is loaded).
  func startBundles() {
    guard let s = try? Daemon.bundleSettings(config) else { return }   // checked in init
    if let r = s.relay {
      // A fan-out relay holds one long-poll per child: up to Relay.defaultMaxConnections of
      // them, within the open-file limit less what the agent itself keeps open.
      let files = raiseOpenFileLimit(to: Relay.defaultMaxConnections + Relay.reservedFiles)
      let relay = Relay(loop: loop, env: env,
                        maxConnections: max(16, min(Relay.defaultMaxConnections, files - Relay.reservedFiles)))
      do throws(LoopError) {
        try relay.start(address: r.address, port: r.port)
        self.relay = relay
        log.info("relay listening", [("address", .string("\(r.address):\(relay.port)")), ("max_connections", .int(relay.maxConnections))])
      } catch {
        log.error("unable to start the relay", [("address", "\(r.address):\(r.port)"), ("err", error.description)])
      }
    }
    relay?.extraMetrics = { [unowned(unsafe) self] in self.daemonMetrics() }
    relay?.health = { [unowned(unsafe) self] in self.health() }
    guard !s.origins.isEmpty else { return }
    var pc = PullerConfig(origins: s.origins, trustedKeys: s.keys, hostID: hostID)
    pc.intervalMs = UInt64(config.pullIntervalMs ?? config.intervalMs)
    pc.agentTarget = agentTargetName
    pc.root = config.root
    pc.resolver.hostsPath = config.hostsFile
    pc.resolver.resolvConfPath = config.resolvConf
    // A relay pulls from its ancestors in the bundle's relay tree, found by the URL the bundle
    // lists it under: relay_url, or else its listening address unless that is a wildcard.
    if let r = s.relay {
      pc.isRelay = true
      pc.relayURL = s.relayURL
      if pc.relayURL == nil && r.address != "0.0.0.0", let port = relay?.port {
        pc.relayURL = UpstreamURL("http://\(r.address):\(port)")
      }
    }
    let p = Puller(loop: loop, env: env, config: pc) { [unowned(unsafe) self] level, message, fields in
      switch level {
      case "error": self.log.error(message, fields)
      case "warn": self.log.warn(message, fields)
      default: self.log.info(message, fields)
      }
    }
    p.onAccepted = { [unowned(unsafe) self] b in
      self.relay?.notifyAccepted()
      // The baseline composed with the teams held (TeamAcceptance.swift).
      self.replacePolicy(b.inForce?.policy ?? b.policy, digest: b.inForce?.digest ?? b.digest)
      self.considerAgentUpdate(b.agent)
    }
    p.onTeamAccepted = { [unowned(unsafe) self] f in
      self.relay?.notifyAccepted()
      self.replacePolicy(f.policy, digest: f.digest)
    }
    puller = p
    p.start()
    log.info("pulling bundles", [("upstreams", .int(s.origins.count)), ("serial", .int(Int(p.heldSerial)))])
  }

  func stopBundles() {
    puller?.stop()
    relay?.stop()
  }
}

extension Daemon {
  /// The serial of the bundle in force, nil before the first; a store failure is logged and
  /// taken as none (the puller then asks as on a first boot), never dropped silently.
  /// The policy to converge to at start when the file gives none: the signed bundle in force,
  /// whole (its vars and template blobs with it: `desired` holds each promise, not those),
  /// composed with the teams' bundles held, else what `desired` holds (a policy file's last
  /// good one).
  func lastGoodPolicy() throws(StoreError) -> Policy? {
    if try heldSerial(env) != nil, let f = try loadPolicyInForce(env) { return f.policy }
    return try loadDesiredPolicy(env)
  }

  /// The bundle in force's `agent` entry; a store failure is logged and taken as none.
  func heldAgentRelease() -> AgentRelease? {
    do { return try loadAcceptedBundle(env)?.agent } catch {
      log.error("unable to read the bundle in force", [("err", error.description)])
      return nil
    }
  }

  func heldSerialOrSaid() -> UInt64? {
    do { return try heldSerial(env) } catch {
      log.error("unable to read the bundle in force", [("err", error.description)])
      return nil
    }
  }
}
