import EdgeCore
import EdgeHost

/// What `edgeagent validate` found in a policy file or a bundle directory. Validation reads the
/// files it is given and nothing else: no state is opened, no host path looked at, nothing written.
public struct ValidationReport {
  /// The file the issues' positions are in: the policy file, or the bundle's `DIR/bundle.json`.
  public var file: String
  /// The policy's name and its number of promises; "" and 0 when it is invalid.
  public var policyName: String
  public var promises: Int
  /// A bundle's serial once its signature and format are good; nil for a policy file.
  public var serial: UInt64?
  /// Every issue found, in the order of their places in the file (those without a place, such
  /// as a bad signature or "and 3 more issues", last); empty when valid.
  public var issues: [PolicyIssue]

  public var valid: Bool { issues.isEmpty }
}

/// Checks policy bytes as `apply` does before it touches anything: the JSON, every key and value,
/// ids and paths, then the plan (after/notify references, cycles). `file` names them in the report.
/// `team`: a team's policy, as `publish --team` takes it (`after` may name `baseline/ID`; the
/// scope is the agent's to check, against the baseline it holds).
public func validatePolicy(_ bytes: consuming [UInt8], file: String, team: Bool = false) -> ValidationReport {
  // Taken, not borrowed: the text goes once it is parsed, as `apply`'s does (15.6 MB beside the
  // 100,000 promises decoded from it: 62 MB at the peak of validating them).
  do {
    let p = try PolicyDecoder.decode(releasing: &bytes, qualified: team, readPast: dropTextPages)
    return ValidationReport(file: file, policyName: p.name, promises: p.promises.count, serial: nil, issues: [])
  } catch {
    return ValidationReport(file: file, policyName: "", promises: 0, serial: nil, issues: inFileOrder(error.issues))
  }
}

/// Checks a bundle directory as an agent checks a bundle before accepting it: the signature of
/// `DIR/bundle.json` against `publicKeys` (32-byte Ed25519 keys) first, then its format and its
/// policy, with every issue of the policy (an agent stops at the first). The blobs and the clock
/// are `verifyBundleDirectory`'s. Throws when bundle.json or bundle.json.sig cannot be read.
public func validateBundleDirectory(_ dir: String, publicKeys: [[UInt8]]) throws(HostError) -> ValidationReport {
  let d = BundleDirectory(dir)
  let bytes = try d.readBundle()
  let signature = try d.readSignature()
  var report = ValidationReport(file: dir + "/bundle.json", policyName: "", promises: 0, serial: nil, issues: [])
  do throws(BundleRejection) {
    let b = try verifySignedBundle(bytes, signature: signature, trustedKeys: publicKeys)
    report.policyName = b.policy.name
    report.promises = b.policy.promises.count
    report.serial = b.serial
  } catch {
    guard case .format(let e) = error else {
      report.issues = [PolicyIssue(error.description, at: .none)]
      return report
    }
    report.issues = [PolicyIssue(e.message, at: e.position)]
    // The bundle's error names its policy's first issue: the policy alone names them all.
    if let root = try? JSONReader.parse(bytes), let policy = root.members?.first(where: { $0.key == "policy" })?.value {
      do throws(PolicyError) { _ = try PolicyDecoder.decode(policy) } catch { report.issues = inFileOrder(error.issues) }
    }
  }
  return report
}

/// Sorted by line and column, ties and issues without a place kept in their order. An insertion
/// sort: at most `PolicyDecoder.maxIssues` + 1 issues, nearly in order already, and no generic
/// sort in the binary for them.
private func inFileOrder(_ issues: [PolicyIssue]) -> [PolicyIssue] {
  func precedes(_ a: SourcePosition, _ b: SourcePosition) -> Bool {
    if a.line == 0 { return false }
    return b.line == 0 || a.line < b.line || (a.line == b.line && a.column < b.column)
  }
  var out = issues
  for i in out.indices.dropFirst() {
    let x = out[i]
    var j = i
    while j > 0 && precedes(x.position, out[j - 1].position) {
      out[j] = out[j - 1]
      j -= 1
    }
    out[j] = x
  }
  return out
}
