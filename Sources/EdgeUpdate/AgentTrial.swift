import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// What to do with a bundle's `agent` entry, given the binary running and what the state
/// remembers. `skip` carries why (said once per bundle, in the log).
public enum UpdateChoice: Equatable {
  case none
  case skip(String)
  case stage(version: String, digest: Digest)
}

public func chooseUpdate(_ release: AgentRelease?, target: String, running: String,
                         record: AgentUpdateRecord) -> UpdateChoice {
  guard let release, release.version != running else { return .none }
  if let t = record.trial { return .skip("a trial of \(t.version) is in progress") }
  if record.failed.contains(release.version) {
    return .skip("agent \(release.version) failed before (\(record.failureVersion == release.version ? record.failureReason : "see events")): not tried again until a bundle names another version")
  }
  guard let d = release.digest(for: target) else {
    return .skip("the bundle's agent \(release.version) has no binary for \(target)")
  }
  return .stage(version: release.version, digest: d)
}

/// The agent's update record, or a fresh one.
public func loadAgentUpdate(_ env: Environment) throws(StoreError) -> AgentUpdateRecord {
  try env.withRead { (txn) throws(StoreError) in try txn.agentUpdate() } ?? AgentUpdateRecord()
}

/// A version refused before any switch (its blob, its target, its self-test): marked failed, with
/// the reason in status and a failed `agent` event.
public func recordRefusal(_ env: Environment, version: String, reason: String, now: Int64) throws(StoreError) {
  try env.withWrite { (txn) throws(StoreError) in
    var r = try txn.agentUpdate() ?? AgentUpdateRecord()
    r.fail(version, reason: reason, at: now)
    try txn.setAgentUpdate(r)
    try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .failed, subject: "agent", reason: "refused \(version): \(reason)")])
  }
}

/// Records the trial of `version` and the services handed over, in one synced transaction,
/// before the exec: whatever happens next, the next start finds them. Returns the token the
/// new image must carry to be the trial.
public func beginTrial(_ env: Environment, version: String, digest: Digest, previous: String, handoff: HandoffRecord,
                       now: Int64) throws(StoreError) -> String {
  let token = randomHex(16)
  try env.withWrite { (txn) throws(StoreError) in
    var r = try txn.agentUpdate() ?? AgentUpdateRecord()
    r.trial = AgentTrialRecord(version: version, digest: digest, previousVersion: previous, token: token, startedAt: now)
    try txn.setAgentUpdate(r)
    try txn.setHandoff(handoff)
    try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .repaired, subject: "agent",
                                       reason: "switching from \(previous) to \(version) (\(handoff.services.count) services handed over)")])
  }
  try env.sync()
  return token
}

/// The exec of a trial failed in the process that staged it: no switch happened, the version
/// is marked failed, the handoff dropped.
public func abandonTrial(_ env: Environment, reason: String, now: Int64) throws(StoreError) {
  try env.withWrite { (txn) throws(StoreError) in
    var r = try txn.agentUpdate() ?? AgentUpdateRecord()
    guard let t = r.trial else { return }
    r.trial = nil
    r.fail(t.version, reason: reason, at: now)
    try txn.setAgentUpdate(r)
    try txn.setHandoff(nil)
    try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .failed, subject: "agent", reason: "refused \(t.version): \(reason)")])
  }
}

/// The trial survived its window: its version becomes the committed one, which every later
/// start runs. Returns the committed trial (nil: there was none).
@discardableResult
public func commitTrial(_ env: Environment, now: Int64) throws(StoreError) -> AgentTrialRecord? {
  let t = try env.withWrite { (txn) throws(StoreError) -> AgentTrialRecord? in
    var r = try txn.agentUpdate() ?? AgentUpdateRecord()
    guard let t = r.trial else { return nil }
    r.trial = nil
    r.committedVersion = t.version
    r.committedDigest = t.digest
    r.committedAt = now
    try txn.setAgentUpdate(r)
    try appendEvents(txn, [EventRecord(kind: .policy, time: now, status: .repaired, subject: "agent",
                                       reason: "committed \(t.version) after its trial (previous \(t.previousVersion))")])
    return t
  }
  try env.sync()
  return t
}

/// The services the previous image handed over, removed from the state as they are taken: a
/// later start must not adopt them again.
public func takeHandoff(_ env: Environment) throws(StoreError) -> HandoffRecord? {
  try env.withWrite { (txn) throws(StoreError) -> HandoffRecord? in
    let h = try txn.handoff()
    if h != nil { try txn.setHandoff(nil) }
    return h
  }
}

/// Removes the staged binaries other than `keep` (the committed one): a refused or rolled-back
/// version, or the one a commit replaced, would otherwise stay on a small disk for good. A file
/// that cannot be removed is left for the next prune; the caller logs what is returned.
public func pruneStaged(_ layout: StateLayout, keep: Digest?) -> [String] {
  var problems: [String] = []
  let dir: Directory
  do { dir = try Directory.openRoot(layout.agentDirectory) } catch {
    if error.errno != .noEntry { problems.append(error.description) }
    return problems
  }
  let names: [String]
  do { names = try dir.entries() } catch { return [error.description] }
  let kept = keep.map { "edgeagent-" + $0.hex }
  for n in names where n.hasPrefix("edgeagent-") && n != kept {
    do { try dir.remove(n, directory: false) } catch { problems.append(error.description) }
  }
  return problems
}
