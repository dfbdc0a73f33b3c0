/// Why an agent refused a bundle. Each case is a reason an operator can act on; the last good
/// bundle stays in force whatever the reason (DESIGN.md §8).
public enum BundleRejection: Error, Equatable, Sendable, CustomStringConvertible {
  /// bundle.json is not a valid bundle (or its policy does not validate).
  case format(BundleFormatError)
  /// The signature does not verify against any trusted key (tampered, or signed by another key).
  case badSignature
  /// The serial is not higher than the one held: a replay or a rollback.
  case notNewer(offered: UInt64, held: UInt64)
  /// The held serial again, with other content: a publisher reused a serial (or an upstream
  /// altered a signed bundle under its old number). Never "unchanged": one of the two is wrong.
  case serialConflict(serial: UInt64, held: Digest, offered: Digest)
  /// Past its `expires`: an attacker replaying a stale bundle cannot freeze a box.
  case expired(expires: Int64, now: Int64)
  /// The clock reads before the bundle was issued: this box's clock is wrong (no RTC?).
  case clockBeforeIssue(issued: Int64, now: Int64)
  /// A listed blob is not available.
  case blobMissing(Digest)
  /// A blob's bytes do not hash to its name, or its size is not the listed one.
  case blobMismatch(Digest, String)
  /// The transfer failed (truncated, oversized, an HTTP error): the upstream's fault.
  case transfer(String)
  /// A team's bundle for a team the baseline in force does not delegate to (or no baseline yet).
  case notDelegated(team: String)
  /// A bundle that names another team than the place it was offered for (`"baseline"`: the
  /// baseline's place, or a bundle that names no team offered as a team's).
  case wrongTeam(named: String, offered: String)
  /// A team's promises outside its scope, after a baseline promise that is not there, or on an
  /// object another bundle promises: each issue names the promise, the object and the holder.
  case outOfScope(team: String, issues: [String])

  /// A short word for metrics and logfmt (`reason=bad_signature`).
  public var code: String {
    switch self {
    case .format: return "format"
    case .badSignature: return "bad_signature"
    case .notNewer: return "not_newer"
    case .serialConflict: return "serial_conflict"
    case .expired: return "expired"
    case .clockBeforeIssue: return "clock_before_issue"
    case .blobMissing: return "blob_missing"
    case .blobMismatch: return "blob_mismatch"
    case .transfer: return "transfer"
    case .notDelegated: return "not_delegated"
    case .wrongTeam: return "wrong_team"
    case .outOfScope: return "out_of_scope"
    }
  }

  public var description: String {
    switch self {
    case .format(let e): return "bundle.json is not a valid bundle: \(e)"
    case .badSignature: return "signature does not verify against any trusted key"
    case .notNewer(let offered, let held): return "serial \(offered) is not newer than the held serial \(held) (replay or rollback)"
    case .serialConflict(let serial, let held, let offered):
      return "serial \(serial) is held with other content (held sha256:\(held.hex), offered sha256:\(offered.hex)): a serial was reused"
    case .expired(let expires, let now): return "bundle expired at \(expires), now \(now)"
    case .clockBeforeIssue(let issued, let now):
      return "clock reads \(now), before the bundle's issue time \(issued): check this host's clock"
    case .blobMissing(let d): return "blob \(d.hex) is missing"
    case .blobMismatch(let d, let why): return "blob \(d.hex): \(why)"
    case .transfer(let why): return "transfer failed: \(why)"
    case .notDelegated(let team): return "team \"\(team)\" is not delegated by the baseline in force"
    case .wrongTeam(let named, let offered):
      return "the bundle is \(named == "baseline" ? "the baseline's" : "team \"\(named)\"'s"), offered as \(offered == "baseline" ? "the baseline" : "team \"\(offered)\"'s")"
    case .outOfScope(let team, let issues):
      var s = "team \"\(team)\": "
      for (i, issue) in issues.prefix(5).enumerated() { s += (i > 0 ? "; " : "") + issue }
      if issues.count > 5 { s += " (and \(issues.count - 5) more)" }
      return s
    }
  }

  /// The checks that need only the decoded bundle, the held serial and the clock, in the order
  /// an operator wants them reported: a wrong clock first (it explains an "expired").
  public static func checkFreshness(_ b: PolicyBundle, heldSerial: UInt64?, now: Int64) throws(BundleRejection) {
    if let held = heldSerial, b.serial <= held { throw .notNewer(offered: b.serial, held: held) }
    if now < b.issued { throw .clockBeforeIssue(issued: b.issued, now: now) }
    if now >= b.expires { throw .expired(expires: b.expires, now: now) }
  }
}
