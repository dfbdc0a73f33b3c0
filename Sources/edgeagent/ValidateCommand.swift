import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost

/// `edgeagent validate POLICY|BUNDLE_DIR [--key PUB]... [--json]`
enum ValidateCommand {
  static let usage = """
    usage: edgeagent validate POLICY|BUNDLE_DIR [--key PUB]... [--json]

    Checks a policy as apply does before touching anything (its JSON, every key and value, ids,
    paths, the plan: after/notify references and cycles) and prints every error as
    FILE:LINE:COLUMN: MESSAGE. Reads only the files named: no state, nothing written. For a
    bundle directory (as publish writes it), the signature of DIR/bundle.json is checked against
    the public key file(s) first, then the bundle and its policy (blobs and expiry: verify).
      --key PUB   public key file from `edgeagent keygen` (repeatable; needed for a bundle)
      --json      print {"valid": BOOL, "errors": [{"file", "line", "column", "message"}...]}
    Exit: 0 valid, 1 invalid, 2 bad usage, 111 unreadable files.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--key", "--pubkey"], flags: ["--json"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.count == 1 else { throw UsageError("validate needs one POLICY file or BUNDLE_DIR") }
      let path = o.positional[0]
      let isBundle: Bool
      do throws(HostError) { isBundle = try FileStat.following(path)?.kind == .directory } catch {
        writeError("validate", "\(error)")
        return ExitCode.system
      }
      var keys: [[UInt8]] = []
      if isBundle {
        let paths = o.all("--key") + o.all("--pubkey")
        guard !paths.isEmpty else { throw UsageError("validate of a bundle directory needs --key PUB") }
        for p in paths {
          do throws(HostError) { keys.append(try Ed25519.readKeyFile(p, bytes: Ed25519.publicKeyBytes)) } catch {
            writeError("validate", "\(error)")
            return ExitCode.usage
          }
        }
      }
      let report: ValidationReport
      do throws(HostError) {
        if isBundle {
          report = try validateBundleDirectory(path, publicKeys: keys)
        } else {
          report = validatePolicy(try readWholeFile(path, limit: maxPolicyBytes, anyKind: true), file: path)
        }
      } catch {
        writeError("validate", "\(error)")
        return ExitCode.system
      }
      if o.has("--json") {
        writeStdout(json(report))
      } else if report.valid {
        var out = ""
        if let serial = report.serial { out += "bundle \(escapedText(path)): serial \(serial), signature valid\n" }
        out += "policy \(escapedText(report.policyName)): \(report.promises) promises, valid\n"
        writeStdout(out)
      } else {
        var out = ""
        for issue in report.issues { out += escapedText(line(report.file, issue)) + "\n" }
        writeStderr(out + "edgeagent: validate: \(escapedText(report.file)) is invalid\n")
      }
      return report.valid ? ExitCode.ok : ExitCode.failed
    }
  }

  /// `FILE:LINE:COLUMN: promise "id": key "k": message`, or `FILE: message` without a position.
  static func line(_ file: String, _ issue: PolicyIssue) -> String {
    issue.position.line > 0 ? "\(file):\(issue)" : "\(file): \(issue)"
  }

  static func json(_ r: ValidationReport) -> String {
    var w = JSONWriter()
    w.beginObject()
    w.member("valid", r.valid)
    w.member("file", r.file)
    if r.valid {
      w.member("policy", r.policyName)
      w.member("promises", Int64(r.promises))
      if let serial = r.serial { w.member("serial", Int64(serial)) }
    }
    w.key("errors")
    w.beginArray()
    for issue in r.issues {
      w.beginObject()
      w.member("file", r.file)
      var bare = issue
      bare.position = .none
      if issue.position.line > 0 {
        w.member("line", Int64(issue.position.line))
        w.member("column", Int64(issue.position.column))
      } else {
        w.key("line"); w.null()
        w.key("column"); w.null()
      }
      w.member("message", bare.description)
      w.endObject()
    }
    w.endArray()
    w.endObject()
    return w.text + "\n"
  }
}
