import EdgeCore
import EdgeHost
import EdgeStore

/// This host's own reports (issue 16): signed with the host key, which is made on first need
/// and kept in the state (meta `report.key`; the data file is 0600), under a sequence number
/// that is the later of the last one + 1 and the wall clock in milliseconds: increasing across
/// restarts, and after a power cut that undid the last commits too (the clock moved on), so a
/// collector never refuses a new report as a replay of one it holds.
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
    let sk = Ed25519.keypair().secretKey
    try env.withWrite { (txn) throws(StoreError) in try txn.setHostKey(sk) }
    return sk
  }

  /// Signs `report` as this host (its key, the next sequence, now) and takes it into `reports`
  /// through `acceptance`, as a child's report would be taken. Returns the signed bytes.
  @discardableResult
  public static func submit(_ report: HostReport, env: Environment, acceptance: ReportAcceptance, now: Int64,
                            counters: inout ReportCounters) throws(StoreError) -> (signed: [UInt8], outcome: ReportAcceptance.Outcome) {
    let sk = try secretKey(env)
    let seq = try env.withWrite(synced: false) { (txn) throws(StoreError) -> UInt64 in
      let seq = max(try txn.reportSequence() + 1, UInt64(max(0, now)) * 1000)
      try txn.setReportSequence(seq)
      return seq
    }
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
