import EdgeConverge
import EdgeCore
import EdgeHost

/// What `edgeagent publish` is asked to do.
public struct PublishOptions {
  public var sourcePolicy: String
  public var outDir: String
  public var secretKeyPath: String
  /// nil: one more than the serial of the bundle already in `outDir`, or 1.
  public var serial: UInt64? = nil
  /// Seconds from now until the bundle expires.
  public var expiresIn: Int64 = 30 * 86_400
  /// `relays` listed in the bundle, as given.
  public var relays: [String] = []
  /// The relay tree's fan-out (`relay_fanout`); nil leaves it out (agents use 10).
  public var relayFanout: Int? = nil
  /// Whether a `source_file` may lie outside the policy file's directory (after resolving
  /// symlinks and `..`). Off: a policy author cannot ship `../k.key` or `/etc/shadow` as a blob
  /// that every relay then serves.
  public var allowOutsideSources = false
  /// A directory of agent binaries named `edgeagent-TARGET` (Cross/build.sh's out/), and their
  /// version label: the bundle's `agent` entry. Both or neither.
  public var agentDirectory: String? = nil
  public var agentVersion: String? = nil
  /// A team's bundle: written to OUTDIR/teams/TEAM/ beside the baseline's, blobs shared in
  /// OUTDIR/blobs/, signed with the team's key. It carries no relays, agent or delegations.
  public var team: String? = nil
  /// A JSON file holding the baseline's `delegations` (an array, or an object with that key).
  public var delegationsFile: String? = nil
  /// Unix seconds used as `issued` (tests pass a fixed clock).
  public var now: Int64 = wallClockSeconds()

  public init(sourcePolicy: String, outDir: String, secretKeyPath: String) {
    self.sourcePolicy = sourcePolicy
    self.outDir = outDir
    self.secretKeyPath = secretKeyPath
  }
}

public struct PublishReport {
  public var serial: UInt64
  public var digest: Digest
  public var bytes: Int
  public var blobs: [BundleBlob]
  public var issued: Int64
  public var expires: Int64
  public var policyName: String
  public var promises: Int
}

/// Builds, signs and writes a bundle directory an origin can serve as static files.
///
/// A source policy is an agent policy in which a file promise may name a local file with
/// `"source_file": "PATH"` (relative to the policy file's directory, and inside it unless
/// `allowOutsideSources`). Publishing reads each such file, stores it as `blobs/<sha256>` and replaces the key by `"source": "sha256:<hex>"`, so the
/// bundle's policy holds only keys the agent's validator accepts. A `source: "sha256:…"` already
/// in the policy must have its blob in `OUTDIR/blobs/`. The result is validated as the agent
/// will validate it before anything is written.
///
/// No blob is ever a secret key (Ed25519.isSecretKey), whatever the flags: it would be served
/// to anyone who asks a relay.
///
/// Files are written blobs first, then bundle.json and bundle.json.sig, each replaced
/// atomically, so an origin never serves a bundle whose blobs are not there yet.
public func publishBundle(_ o: PublishOptions) throws(BundleError) -> PublishReport {
  let secret: [UInt8]
  do { secret = try Ed25519.readKeyFile(o.secretKeyPath, bytes: Ed25519.secretKeyBytes) } catch { throw .host(error) }
  let source: [UInt8]
  do { source = try readWholeFile(o.sourcePolicy, anyKind: true) } catch { throw .host(error) }
  let root: JSONNode
  do { root = try JSONReader.parse(source) } catch { throw .input("\(o.sourcePolicy):\(error)") }
  if let team = o.team {
    if let p = Delegation.nameProblem(team) { throw .input("--team: " + p) }
    if !o.relays.isEmpty || o.relayFanout != nil || o.agentDirectory != nil || o.delegationsFile != nil {
      throw .input("--team \(team): a team's bundle carries no --relay, --relay-fanout, --agent-dir or --delegations (only the baseline does)")
    }
  }
  let delegations = try o.delegationsFile.map { (f) throws(BundleError) -> [Delegation] in try readDelegations(f) } ?? []
  for r in o.relays where UpstreamURL(r)?.scheme != .http {
    throw .input("--relay \(r): expected http://HOST:PORT")
  }
  if let f = o.relayFanout, f < 1 || f > RelayTree.maxFanout {
    throw .input("--relay-fanout \(f): expected a whole number from 1 to \(RelayTree.maxFanout)")
  }

  // Resolve source_file keys into blobs.
  var blobs: [(BundleBlob, [UInt8])] = []
  let baseDir = parentDirectory(o.sourcePolicy)
  let policyNode = try resolveSourceFiles(root, baseDir: baseDir, file: o.sourcePolicy,
                                          allowOutside: o.allowOutsideSources, blobs: &blobs)
  let policy: Policy
  do { policy = try PolicyDecoder.decode(policyNode, qualified: o.team != nil) } catch {
    var s = ""
    for (i, issue) in error.issues.enumerated() { s += (i > 0 ? "\n" : "") + "\(o.sourcePolicy):\(issue)" }
    throw .input(s)
  }
  // Sources given as digests: their blobs must already be in OUTDIR/blobs.
  let out = BundleDirectory(o.outDir)
  for p in policy.promises {
    guard let d = p.source else { continue }
    var have = false
    for (b, _) in blobs where b.digest == d { have = true }
    if have { continue }
    let size: Int64
    do { size = try FileStat.following(o.outDir + "/blobs/" + d.hex)?.identity.size ?? -1 } catch { throw .host(error) }
    if size < 0 { throw .input("promise \"\(p.id)\": source \(d) is not in \(o.outDir)/blobs (use \"source_file\")") }
    let content = try out.readBlob(BundleBlob(digest: d, size: size))
    blobs.append((BundleBlob(digest: d, size: size), content))
  }
  for (b, content) in blobs where Ed25519.isSecretKey(content) {
    var id = "?"
    for p in policy.promises where p.source == b.digest { id = p.id }
    throw .input("promise \"\(id)\": source \(b.digest) is a secret signing key: it is never published")
  }
  // A template whose text is a blob is checked here as the decoder checks an inline one: its
  // names against the vars and the facts' names, so that no agent has to refuse it for a typo.
  var rendered = policy
  do throws(PolicyError) {
    try renderTemplates(&rendered, facts: HostFacts(), classes: [], blob: { d in
      for (b, content) in blobs where b.digest == d { return content }
      return nil
    })
  } catch {
    var s = ""
    for (i, issue) in error.issues.enumerated() { s += (i > 0 ? "\n" : "") + "\(o.sourcePolicy):\(issue)" }
    throw .input(s)
  }
  let agent = try agentRelease(o, blobs: &blobs)
  var listed: [BundleBlob] = []
  for (b, _) in blobs where !listed.contains(b) { listed.append(b) }
  listed.sort { $0.digest.precedes($1.digest) }

  // A team's bundle lives in its own directory; the blobs are shared with the baseline's.
  let place = o.team.map { o.outDir + "/teams/" + $0 } ?? o.outDir
  var serial: UInt64 = 1
  if let s = o.serial {
    serial = s
  } else if let previous = try? BundleDirectory(place).readBundle(), let held = previousSerial(previous) {
    serial = held + 1
  }
  let expires = o.now + o.expiresIn
  let bytes = PolicyBundle.encode(serial: serial, issued: o.now, expires: expires, policy: policyNode,
                                  blobs: listed, relays: o.relays, relayFanout: o.relayFanout, agent: agent,
                                  delegations: delegations, team: o.team)
  // What agents will do with it, done here first.
  do { _ = try PolicyBundle.decode(bytes) } catch { throw .input("the bundle does not decode: \(error)") }
  let signature = Ed25519.sign(bytes, secretKey: secret)

  // Static servers derive ETags from mtime (seconds) and size: a bundle rewritten within the
  // same second at the same size would keep the old ETag and be answered 304. Move it on.
  var previousMtime: Int64? = nil
  for name in ["bundle.json", "bundle.json.sig"] {
    if let st = try? FileStat.following(place + "/" + name) {
      previousMtime = max(previousMtime ?? 0, st.identity.mtime / 1_000_000_000)
    }
  }
  do throws(HostError) {
    try makeDirectory(o.outDir)
    try makeDirectory(o.outDir + "/blobs")
    if o.team != nil {
      try makeDirectory(o.outDir + "/teams")
      try makeDirectory(place)
    }
    let top = try Directory.openRoot(place)
    let blobDir = try Directory.openRoot(o.outDir + "/blobs")
    for (b, content) in blobs {
      try withBytes(content) { (raw) throws(HostError) in try AtomicWrite.replace(blobDir, b.digest.hex, content: raw, mode: 0o644) }
    }
    try withBytes(bytes) { (raw) throws(HostError) in try AtomicWrite.replace(top, "bundle.json", content: raw, mode: 0o644) }
    try withBytes(signature) { (raw) throws(HostError) in try AtomicWrite.replace(top, "bundle.json.sig", content: raw, mode: 0o644) }
    if let previousMtime, wallClockSeconds() <= previousMtime {
      try setModificationTime(place + "/bundle.json", seconds: previousMtime + 1)
      try setModificationTime(place + "/bundle.json.sig", seconds: previousMtime + 1)
    }
  } catch { throw .host(error) }
  return PublishReport(serial: serial, digest: SHA256.hash(bytes), bytes: bytes.count, blobs: listed,
                       issued: o.now, expires: expires, policyName: policy.name, promises: policy.promises.count)
}

/// The `agent` entry from `--agent-dir` and `--agent-version`: each `edgeagent-TARGET` found
/// becomes a blob, after its ELF header says it is for that target (a binary under the wrong
/// name would only fail on every agent of that target).
private func agentRelease(_ o: PublishOptions, blobs: inout [(BundleBlob, [UInt8])]) throws(BundleError) -> AgentRelease? {
  guard let dir = o.agentDirectory else {
    if o.agentVersion != nil { throw .input("--agent-version needs --agent-dir") }
    return nil
  }
  guard let version = o.agentVersion else { throw .input("--agent-dir needs --agent-version") }
  guard AgentRelease.isVersion(version) else {
    throw .input("--agent-version \(version): expected 1 to \(AgentRelease.maxVersionBytes) letters, digits or . - _ + ~")
  }
  var targets: [AgentTarget] = []
  for t in AgentRelease.knownTargets {
    let path = dir + "/edgeagent-" + t
    let exists: Bool
    do { exists = try FileStat.following(path) != nil } catch { throw .host(error) }
    if !exists { continue }
    let content: [UInt8]
    do { content = try readWholeFile(path, limit: Int(PolicyBundle.maxBlobSize)) } catch { throw .host(error) }
    let found = AgentRelease.target(ofELF: content)
    guard found == t else {
      throw .input("\(path): \(found.map { "an executable for \($0)" } ?? "not an ELF executable of a known target"), not for \(t)")
    }
    let digest = SHA256.hash(content)
    blobs.append((BundleBlob(digest: digest, size: Int64(content.count)), content))
    targets.append(AgentTarget(name: t, digest: digest))
  }
  if targets.isEmpty {
    throw .input("--agent-dir \(dir): no edgeagent-TARGET binary (targets: aarch64, armv7, x86_64)")
  }
  return AgentRelease(version: version, targets: targets)
}

/// The serial of a bundle.json, read without verifying it (publishing continues the sequence).
/// The `delegations` a baseline carries, from a file: an array, or an object with that key.
private func readDelegations(_ path: String) throws(BundleError) -> [Delegation] {
  let bytes: [UInt8]
  do { bytes = try readWholeFile(path, anyKind: true) } catch { throw .host(error) }
  let root: JSONNode
  do { root = try JSONReader.parse(bytes) } catch { throw .input("\(path):\(error)") }
  var node = root
  if let m = root.members {
    guard let d = m.first(where: { $0.key == "delegations" }) else { throw .input("\(path): expected an array of delegations, or an object with \"delegations\"") }
    node = d.value
  }
  do { return try Delegation.decodeList(node) } catch { throw .input("\(path):\(error)") }
}

private func previousSerial(_ bytes: [UInt8]) -> UInt64? {
  guard let root = try? JSONReader.parse(bytes), let members = root.members else { return nil }
  for m in members where m.key == "serial" {
    if let n = m.value.integer, n > 0 { return UInt64(n) }
  }
  return nil
}

private func parentDirectory(_ path: String) -> String {
  let u = Array(path.utf8)
  guard let slash = u.lastIndex(of: UInt8(ascii: "/")) else { return "." }
  return slash == 0 ? "/" : String(decoding: u[0..<slash], as: UTF8.self)
}

/// The policy with each promise's `source_file` replaced by `source: "sha256:…"`; the files'
/// bytes are appended to `blobs`.
private func resolveSourceFiles(_ root: JSONNode, baseDir: String, file: String, allowOutside: Bool,
                                blobs: inout [(BundleBlob, [UInt8])]) throws(BundleError) -> JSONNode {
  let base: String
  do { base = try realPath(baseDir) } catch { throw .host(error) }
  guard case .object(var members) = root.value else { return root }
  for mi in members.indices where members[mi].key == "promises" {
    guard case .array(var promises) = members[mi].value.value else { continue }
    for pi in promises.indices {
      guard case .object(var keys) = promises[pi].value else { continue }
      var id = "?"
      for k in keys where k.key == "id" { id = k.value.string ?? id }
      for ki in keys.indices where keys[ki].key == "source_file" {
        let v = keys[ki].value
        let at = "\(file):\(v.position): promise \"\(id)\": key \"source_file\""
        guard let rel = v.string, !rel.isEmpty else { throw .input("\(at): expected a file path") }
        let path = rel.utf8.first == UInt8(ascii: "/") ? rel : baseDir + "/" + rel
        // Canonical, so that neither `..` nor a symlink in the policy's directory leads out of it.
        let resolved: String
        do { resolved = try realPath(path) } catch { throw .input("\(at): \(error)") }
        if !allowOutside && !isWithin(resolved, base) {
          throw .input("\(at): \(rel) is \(resolved), outside the policy's directory \(base) (pass --allow-outside-sources to publish it)")
        }
        let content: [UInt8]
        do { content = try readWholeFile(resolved, limit: Int(PolicyBundle.maxBlobSize)) } catch {
          throw .input("\(at): \(error)")
        }
        if Ed25519.isSecretKey(content) {
          throw .input("\(at): \(rel) is a secret signing key: it is never published")
        }
        let digest = SHA256.hash(content)
        blobs.append((BundleBlob(digest: digest, size: Int64(content.count)), content))
        keys[ki] = JSONMember(key: "source", keyPosition: keys[ki].keyPosition,
                              value: JSONNode(.string("sha256:" + digest.hex), at: v.position))
      }
      promises[pi].value = .object(keys)
    }
    members[mi].value.value = .array(promises)
  }
  return JSONNode(.object(members), at: root.position)
}
