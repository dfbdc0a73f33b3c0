import EdgeCore
import EdgeHost
import EdgeStore

/// This host's own reports (issue 16): signed with the host key, which is made on first need
/// and kept in the state (meta `report.key`; the data file is 0600), under a sequence number
/// advanced and committed before the report exists, so no two reports of one host ever share
/// one, across restarts and crashes.
public enum HostReporting {
  /// The public half of this host's key, making the key if there is none yet.
  public static func publicKey(_ env: Environment) throws(StoreError) -> [UInt8] {
    Ed25519.publicKey(ofSecret: try secretKey(env))
  }

  static func secretKey(_ env: Environment) throws(StoreError) -> [UInt8] {
    let r = try env.read()
    let held = try r.hostKey()
    r.abort()
    if let held, held.count == Ed25519.secretKeyBytes { return held }
    let txn = try env.write()
    let sk = Ed25519.keypair().secretKey
    try txn.setHostKey(sk)
    try txn.commit()
    return sk
  }

  /// Signs `report` as this host (its key, the next sequence, now) and takes it into `reports`
  /// through `acceptance`, as a child's report would be taken. Returns the signed bytes.
  @discardableResult
  public static func submit(_ report: HostReport, env: Environment, acceptance: ReportAcceptance, now: Int64,
                            counters: inout ReportCounters) throws(StoreError) -> (signed: [UInt8], outcome: ReportAcceptance.Outcome) {
    let sk = try secretKey(env)
    let txn = try env.write()
    let seq = try txn.reportSequence() + 1
    try txn.setReportSequence(seq)
    try txn.commit()
    var r = report
    r.publicKey = Ed25519.publicKey(ofSecret: sk)
    r.sequence = seq
    r.sentAt = now
    var signed = r.unsignedBytes()
    signed += Ed25519.sign(signed, secretKey: sk)
    var w = ByteWriter(capacity: signed.count + 8)
    ReportBatch.append(signed, missed: 0, to: &w)
    let outcome = try withBytes(w.bytes) { (b) throws(StoreError) -> ReportAcceptance.Outcome in
      try acceptance.take(b, env: env, now: now, counters: &counters)
    }
    return (signed, outcome)
  }
}
