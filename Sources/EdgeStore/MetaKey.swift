/// Every key of the `meta` database, with its encoding (ByteWriter's little-endian forms). The
/// typed accessors in Meta.swift are the only readers and writers of these bytes.
public enum MetaKey: CaseIterable, Sendable {
  /// u32: the schema the state was last written with (`Environment.schemaVersion`).
  case schema
  /// UTF-8 text: a random 128-bit id made on first start; the splay derives from it.
  case hostID
  /// UTF-8 text: the name of the policy in `desired`.
  case policyName
  /// 32 bytes: SHA-256 of the policy in `desired`.
  case policyDigest
  /// u8: 1 when `desired.1` holds the policy in force; absent or 0, `desired`.
  case desiredSlot
  /// i64 Unix seconds: when the last full run was recorded.
  case lastRun
  /// 4 x u32: kept, repaired, failed, skipped of the last full run.
  case runSummary
  /// 32 bytes: digest of the host's class set at the last run.
  case lastClasses
  /// u64: the serial of the last run that recorded outcomes or verified in place.
  case runSerial
  /// (u64 run serial, i64 Unix seconds) for each `SettledMark`, oldest first: runs that
  /// verified in place what earlier runs repaired.
  case settled
  /// u64: the serial of the last run that recorded a repair.
  case lastRepair
  /// u64: the bundle serial in force; absent until a bundle is accepted.
  case bundleSerial
  /// 32 bytes: SHA-256 of the bundle in force's bundle.json.
  case bundleDigest
  /// The exact bytes of bundle.json and bundle.json.sig, for restarts and for relaying.
  case bundleJSON
  case bundleSignature
  /// i64 Unix seconds: when the bundle in force was accepted.
  case bundleAcceptedAt
  /// `BundleRejectionRecord`: the last refused bundle, kept across acceptances.
  case lastRejection
  /// `ReachabilityRecord`: whether the upstreams answered, written when it changes.
  case reachability
  /// 64 bytes: this host's Ed25519 secret key for its reports, made on first need.
  case hostKey
  /// u64: the sequence number of this host's last report (HostReport.sequence).
  case reportSequence
  /// `AgentUpdateRecord`: the committed agent version, a trial, the failed versions.
  case agentUpdate
  /// `HandoffRecord`: the services an agent handed to the image it exec'd; present only
  /// between the exec and the new image's adopting them.
  case handoff

  /// The key as stored. Never change one: an existing state would lose the value.
  public var name: String {
    switch self {
    case .schema: return "schema"
    case .hostID: return "host.id"
    case .policyName: return "policy.name"
    case .policyDigest: return "policy.digest"
    case .desiredSlot: return "desired.slot"
    case .lastRun: return "run.last"
    case .runSummary: return "run.summary"
    case .lastClasses: return "run.classes"
    case .runSerial: return "run.serial"
    case .settled: return "run.settled"
    case .lastRepair: return "run.repaired"
    case .bundleSerial: return "bundle.serial"
    case .bundleDigest: return "bundle.digest"
    case .bundleJSON: return "bundle.json"
    case .bundleSignature: return "bundle.sig"
    case .bundleAcceptedAt: return "bundle.accepted"
    case .lastRejection: return "bundle.rejection"
    case .reachability: return "pull.reachability"
    case .hostKey: return "report.key"
    case .reportSequence: return "report.sequence"
    case .agentUpdate: return "agent.update"
    case .handoff: return "agent.handoff"
    }
  }
}
