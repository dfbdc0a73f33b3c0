import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost

/// `edgeagent validate POLICY|BUNDLE_DIR [--key PUB]... [--team] [--json]`
enum ValidateCommand {
  static let usage = """
    usage: edgeagent validate POLICY|BUNDLE_DIR [--key PUB]... [--team] [--json]

    Checks a policy as apply does before touching anything (its JSON, every key and value, ids,
    paths, the plan: after/notify references and cycles) and prints every error as
    FILE:LINE:COLUMN: MESSAGE. Reads only the files named: no state, nothing written. For a
    bundle directory (as publish writes it), the signature of DIR/bundle.json is checked against
    the public key file(s) first, then the bundle and its policy (blobs and expiry: verify).
      --key PUB   public key file from `edgeagent keygen` (repeatable; needed for a bundle)
      --team      POLICY is a team's (publish --team): its "after" may name "baseline/ID"
      --json      print {"valid": BOOL, "errors": [{"file", "line", "column", "message"}...]}
    Exit: 0 valid, 1 invalid, 2 bad usage, 111 unreadable files.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--key"], flags: ["--json", "--team"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.count == 1 else { throw UsageError("validate needs one POLICY file or BUNDLE_DIR") }
      let path = o.positional[0]
      // A path that cannot be looked at is read as a policy file, whose read says why.
      let isBundle = ((try? FileStat.following(path)) ?? nil)?.kind == .directory
      if isBundle && o.all("--key").isEmpty { throw UsageError("validate of a bundle directory needs --key PUB") }
      let report: ValidationReport
      do throws(HostError) {
        if isBundle {
          var keys: [[UInt8]] = []
          for p in o.all("--key") { keys.append(try Ed25519.readKeyFile(p, bytes: Ed25519.publicKeyBytes)) }
          report = try validateBundleDirectory(path, publicKeys: keys)
        } else {
          report = validatePolicy(try readWholeFile(path, limit: maxPolicyBytes, anyKind: true), file: path, team: o.has("--team"))
        }
      } catch {
        writeError("validate", error.description)
        return ExitCode.system
      }
      // Concatenation rather than interpolation, and no JSONWriter calls: this command's share
      // of the aarch64 binary's 1,000,000 bytes.
      if o.has("--json") {
        writeStdout(json(report))
      } else if report.valid {
        var out = ""
        if let serial = report.serial { out = "bundle " + escapedText(path) + ": serial " + String(serial) + ", signature valid\n" }
        writeStdout(out + "policy " + escapedText(report.policyName) + ": " + String(report.promises) + " promises, valid\n")
      } else {
        var out = ""
        for issue in report.issues { out += escapedText(line(report.file, issue)) + "\n" }
        writeStderr(out + "edgeagent: validate: " + escapedText(report.file) + " is invalid\n")
      }
      return report.valid ? ExitCode.ok : ExitCode.failed
    }
  }

  /// `FILE:LINE:COLUMN: promise "id": key "k": message`, or `FILE: message` without a position.
  static func line(_ file: String, _ issue: PolicyIssue) -> String {
    file + (issue.position.line > 0 ? ":" : ": ") + issue.description
  }

  /// `{"valid": BOOL, ["policy": NAME, "promises": N,] "errors": [{"file", "line", "column",
  /// "message"}...]}`; line and column are null for an issue of the whole file.
  static func json(_ r: ValidationReport) -> String {
    var out = "{\"valid\":" + (r.valid ? "true" : "false")
    if r.valid { out += ",\"policy\":" + quoted(r.policyName) + ",\"promises\":" + String(r.promises) }
    out += ",\"errors\":["
    for issue in r.issues {
      var bare = issue
      bare.position = .none
      let p = issue.position
      let line: String = p.line > 0 ? String(p.line) : "null"
      let column: String = p.line > 0 ? String(p.column) : "null"
      out += (out.utf8.last == UInt8(ascii: "[") ? "{" : ",{") + "\"file\":" + quoted(r.file)
      out += ",\"line\":" + line + ",\"column\":" + column + ",\"message\":" + quoted(bare.description) + "}"
    }
    return out + "]}\n"
  }

  /// `s` as a JSON string, quoted and escaped.
  @inline(never)
  static func quoted(_ s: String) -> String {
    var w = JSONWriter()
    w.string(s)
    return w.text
  }
}
