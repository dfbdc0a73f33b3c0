/// A signed bundle's content (DESIGN.md §8): `bundle.json`, which `bundle.json.sig` signs byte
/// for byte.
///
/// ```
/// {"serial": 42, "issued": 1767139200, "expires": 1767225600,
///  "policy": {"policy": "gateway", "promises": [...]},
///  "blobs": {"<sha256 hex>": 1234}, "relays": ["http://10.0.0.5:7070"], "relay_fanout": 10}
/// ```
/// `serial` (1 or more) only ever grows: an agent refuses a serial it has already passed.
/// `issued` and `expires` are Unix seconds: a bundle past `expires` is refused (no freeze), and
/// a box whose clock reads before `issued` says so and keeps its last good bundle. `blobs` lists
/// every file content the policy names by `source: "sha256:…"`, with its size; `relays` is
/// optional, each URL at most once, and in its order is the relay tree of fan-out
/// `relay_fanout` (1 to 1,000, default 10; see `RelayTree`). `agent` optionally names the agent
/// binaries to run (AgentRelease.swift), each listed in `blobs`. `delegations` hands scopes to
/// teams (Delegation.swift); a team's own bundle names its `team` instead and carries neither
/// delegations, relays nor an agent: its promises may be `after` the baseline's
/// (`"baseline/ID"`), and are checked against its scope when accepted. Decoding is strict: unknown keys, wrong types and a policy that does not validate
/// are errors with their line:column.
public struct PolicyBundle: Sendable {
  public var serial: UInt64
  public var issued: Int64
  public var expires: Int64
  public var policy: Policy
  /// Sorted by digest.
  public var blobs: [BundleBlob]
  public var relays: [UpstreamURL]
  /// How many relays each relay (and the origin) feeds: the shape of the relay tree.
  public var relayFanout: Int
  /// The agent binaries to run (AgentRelease.swift); nil: the agent keeps its own.
  public var agent: AgentRelease? = nil
  /// The baseline's: the teams it delegates to (empty in a team's bundle).
  public var delegations: [Delegation] = []
  /// A team's bundle: the team it is for (nil: the baseline). Part of the signed bytes, so a
  /// team's bundle cannot be passed off as another team's.
  public var team: String? = nil

  /// The largest bundle.json an agent reads, and the most blobs one may list.
  public static let maxBytes = 16 << 20
  public static let maxBlobs = 100_000
  /// The largest single blob.
  public static let maxBlobSize: Int64 = 1 << 30

  public init(serial: UInt64, issued: Int64, expires: Int64, policy: Policy, blobs: [BundleBlob], relays: [UpstreamURL],
              relayFanout: Int = RelayTree.defaultFanout) {
    self.serial = serial
    self.issued = issued
    self.expires = expires
    self.policy = policy
    self.blobs = blobs
    self.relays = relays
    self.relayFanout = relayFanout
  }

  public static func decode(_ bytes: [UInt8]) throws(BundleFormatError) -> PolicyBundle {
    if bytes.count > maxBytes { throw BundleFormatError("bundle.json is larger than \(maxBytes >> 20) MiB", at: .none) }
    // The policy's promises are decoded as they are read: no tree of them (PolicyDecoder).
    let root: JSONNode, promises: PolicyPromises
    do {
      (root, promises) = try JSONReader.parse(bytes, streaming: policyPromisesPath, into: PolicyPromises())
    } catch {
      throw BundleFormatError(error.message, at: error.position)
    }
    return try decode(root, promises: promises)
  }

  public static func decode(_ root: JSONNode) throws(BundleFormatError) -> PolicyBundle {
    try decode(root, promises: nil)
  }

  /// `promises`: the policy's, streamed as `root` was read (nil: they are in the tree).
  private static func decode(_ root: JSONNode, promises: PolicyPromises?) throws(BundleFormatError) -> PolicyBundle {
    guard let members = root.members else {
      throw BundleFormatError("a bundle is a JSON object, found \(root.typeName)", at: root.position)
    }
    var serial: UInt64? = nil, issued: Int64? = nil, expires: Int64? = nil
    var policy: Policy? = nil
    var blobs: [BundleBlob] = []
    var relays: [UpstreamURL] = []
    var fanout = RelayTree.defaultFanout
    var agent: AgentRelease? = nil
    var delegations: [Delegation] = []
    var team: String? = nil
    var baselineOnly: [(String, SourcePosition)] = []
    for m in members {
      let v = m.value
      switch m.key {
      case "serial":
        guard let n = v.integer, n >= 1 else { throw BundleFormatError("key \"serial\": expected a whole number of 1 or more", at: v.position) }
        serial = UInt64(n)
      case "issued", "expires":
        guard let n = v.integer, n >= 0 else { throw BundleFormatError("key \"\(m.key)\": expected Unix seconds (a whole number)", at: v.position) }
        if m.key == "issued" { issued = n } else { expires = n }
      case "policy":
        do {
          if let promises { policy = try PolicyDecoder.decode(v, promises: promises, qualified: true) } else { policy = try PolicyDecoder.decode(v, qualified: true) }
        } catch {
          let first = error.issues.first ?? PolicyIssue("invalid policy", at: v.position)
          var bare = first
          bare.position = .none
          var message = "key \"policy\": " + bare.description
          if error.issues.count > 1 { message += " (and \(error.issues.count - 1) more issues)" }
          throw BundleFormatError(message, at: first.position.line > 0 ? first.position : v.position)
        }
      case "blobs":
        guard let list = v.members else { throw BundleFormatError("key \"blobs\": expected an object of sha256 -> size", at: v.position) }
        if list.count > maxBlobs { throw BundleFormatError("key \"blobs\": more than \(maxBlobs) blobs", at: v.position) }
        for b in list {
          guard let d = Digest(hex: b.key) else { throw BundleFormatError("key \"blobs\": \"\(b.key)\" is not 64 hex digits", at: b.keyPosition) }
          guard let size = b.value.integer, size >= 0, size <= maxBlobSize else {
            throw BundleFormatError("key \"blobs\": the size of \(b.key) must be a whole number of bytes up to 1 GiB", at: b.value.position)
          }
          blobs.append(BundleBlob(digest: d, size: size))
        }
      case "relays":
        guard let list = v.array else { throw BundleFormatError("key \"relays\": expected an array of URLs", at: v.position) }
        for r in list {
          guard let s = r.string, let url = UpstreamURL(s), url.scheme == .http else {
            throw BundleFormatError("key \"relays\": expected \"http://HOST:PORT\" URLs", at: r.position)
          }
          // Twice in the list would put one relay at two places in the tree.
          if relays.contains(url) { throw BundleFormatError("key \"relays\": \"\(s)\" is listed twice", at: r.position) }
          relays.append(url)
        }
        if !list.isEmpty { baselineOnly.append((m.key, m.keyPosition)) }
      case "relay_fanout":
        guard let n = v.integer, n >= 1, n <= Int64(RelayTree.maxFanout) else {
          throw BundleFormatError("key \"relay_fanout\": expected a whole number from 1 to \(RelayTree.maxFanout)", at: v.position)
        }
        fanout = Int(n)
        baselineOnly.append((m.key, m.keyPosition))
      case "agent":
        agent = try AgentRelease.decode(v)
        baselineOnly.append((m.key, m.keyPosition))
      case "delegations":
        delegations = try Delegation.decodeList(v)
        baselineOnly.append((m.key, m.keyPosition))
      case "team":
        guard let t = v.string else { throw BundleFormatError("key \"team\": expected the team's name", at: v.position) }
        if let p = Delegation.nameProblem(t) { throw BundleFormatError("key \"team\": " + p, at: v.position) }
        team = t
      case "comment":
        guard v.string != nil else { throw BundleFormatError("key \"comment\": expected string", at: v.position) }
      default:
        throw BundleFormatError("unknown key \"\(m.key)\" (allowed: serial, issued, expires, policy, blobs, relays, relay_fanout, agent, delegations, team, comment)", at: m.keyPosition)
      }
    }
    guard let serial else { throw BundleFormatError("missing key \"serial\"", at: root.position) }
    guard let issued else { throw BundleFormatError("missing key \"issued\"", at: root.position) }
    guard let expires else { throw BundleFormatError("missing key \"expires\"", at: root.position) }
    guard let policy else { throw BundleFormatError("missing key \"policy\"", at: root.position) }
    if expires <= issued { throw BundleFormatError("\"expires\" must be after \"issued\"", at: root.position) }
    if let team {
      // Only the baseline shapes the fleet: who is delegated, the relay tree, the agent binary.
      if let (key, at) = baselineOnly.first {
        throw BundleFormatError("key \"\(key)\": team \"\(team)\"'s bundle may not carry it (only the baseline does)", at: at)
      }
      if policy.vars != nil || !policy.classVars.isEmpty {
        throw BundleFormatError("key \"policy\": team \"\(team)\"'s policy may not carry vars or class_vars (the baseline's are the fleet's)", at: root.position)
      }
    } else {
      for p in policy.promises {
        for a in p.after where a.utf8.contains(UInt8(ascii: "/")) {
          throw BundleFormatError("promise \"\(p.id)\": key \"after\": \"\(a)\" names another bundle's promise: only a team's bundle may", at: p.position)
        }
      }
    }
    blobs.sort { a, b in a.digest.precedes(b.digest) }
    for i in blobs.indices.dropFirst() where blobs[i].digest == blobs[i - 1].digest {
      throw BundleFormatError("blob \(blobs[i].digest.hex) is listed twice", at: root.position)
    }
    // Every content the policy names must be listed, so an agent fetches all of it before
    // accepting: a bundle is complete or it is not accepted.
    for p in policy.promises {
      guard let s = p.source else { continue }
      var listed = false
      for b in blobs where b.digest == s { listed = true; break }
      if !listed { throw BundleFormatError("promise \"\(p.id)\": source \(s) is not listed in \"blobs\"", at: p.position) }
    }
    // The agent's binaries likewise: an agent stages its target's from the store.
    if let agent {
      for t in agent.targets where !blobs.contains(where: { $0.digest == t.digest }) {
        throw BundleFormatError("key \"agent.targets.\(t.name)\": \(t.digest) is not listed in \"blobs\"", at: root.position)
      }
    }
    var bundle = PolicyBundle(serial: serial, issued: issued, expires: expires, policy: policy, blobs: blobs, relays: relays, relayFanout: fanout)
    bundle.agent = agent
    bundle.delegations = delegations
    bundle.team = team
    return bundle
  }

  /// The bytes of a bundle.json for these values, `policy` written as given (compact JSON, one
  /// trailing newline); `relay_fanout` only when given. The result decodes to the same bundle.
  public static func encode(serial: UInt64, issued: Int64, expires: Int64, policy: JSONNode,
                            blobs: [BundleBlob], relays: [String], relayFanout: Int? = nil, agent: AgentRelease? = nil,
                            delegations: [Delegation] = [], team: String? = nil) -> [UInt8] {
    var w = JSONWriter()
    w.beginObject()
    w.member("serial", Int64(serial))
    w.member("issued", issued)
    w.member("expires", expires)
    if let team { w.member("team", team) }
    w.key("policy")
    w.node(policy)
    w.key("blobs")
    w.beginObject()
    for b in blobs { w.member(b.digest.hex, b.size) }
    w.endObject()
    if team == nil {
      w.key("relays")
      w.beginArray()
      for r in relays { w.string(r) }
      w.endArray()
    }
    if let relayFanout { w.member("relay_fanout", Int64(relayFanout)) }
    agent?.write(&w)
    if !delegations.isEmpty {
      w.key("delegations")
      w.beginArray()
      for d in delegations { d.write(&w) }
      w.endArray()
    }
    w.endObject()
    var out = w.bytes
    out.append(UInt8(ascii: "\n"))
    return out
  }
}

extension Digest {
  /// Byte order (the order of the hex text), for sorting.
  public func precedes(_ o: Digest) -> Bool {
    if w0 != o.w0 { return w0 < o.w0 }
    if w1 != o.w1 { return w1 < o.w1 }
    if w2 != o.w2 { return w2 < o.w2 }
    return w3 < o.w3
  }
}

/// One content a bundle carries: its SHA-256 and size in bytes.
public struct BundleBlob: Equatable, Sendable {
  public var digest: Digest
  public var size: Int64

  public init(digest: Digest, size: Int64) {
    self.digest = digest
    self.size = size
  }
}

/// Why bytes are not a bundle, and where (`.none` when it is about the whole document).
public struct BundleFormatError: Error, Equatable, Sendable, CustomStringConvertible {
  public var message: String
  public var position: SourcePosition

  public init(_ message: String, at position: SourcePosition) {
    self.message = message
    self.position = position
  }

  public var description: String { position.line > 0 ? "\(position): \(message)" : message }
}

private let policyPromisesPath = ["policy", "promises"]
