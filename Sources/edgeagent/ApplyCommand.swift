import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// `edgeagent apply POLICY [--root DIR] [--state DIR] [--dry-run] [--detailed-exitcodes] [--label NAME]... [--quiet]`
enum ApplyCommand {
  static let usage = """
    usage: edgeagent apply POLICY [--root DIR] [--state DIR] [--dry-run] [--detailed-exitcodes]
                                  [--label NAME]... [--quiet]

    Converges the host once to the promises in POLICY (JSON) and prints each outcome.
      --root DIR     prefix every managed path with DIR (a sandbox; default /)
      --state DIR    LMDB state directory (default \(StateLayout.defaultDirectory), under --root if given)
      --dry-run      report what would change; change nothing, not even the state
      --label NAME   define a class for `if` expressions (repeatable)
      --quiet        print only repairs, failures and the summary
      --detailed-exitcodes
                     exit codes that show drift (Puppet's): 0 all kept, 2 something repaired (or
                     would be, with --dry-run), 4 some failed, 6 both, 1 policy rejected
                     or bad input, 111 system error
    Exit: 0 all kept or repaired, 1 some failed, 2 policy rejected (nothing touched), 111 system error.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--root", "--state", "--label"], flags: ["--dry-run", "--quiet", "--detailed-exitcodes"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.count == 1 else { throw UsageError(o.positional.isEmpty ? "apply needs a POLICY file" : "apply takes one POLICY file") }
      var options = ApplyOptions(policyPath: o.positional[0])
      options.root = o.value("--root") ?? "/"
      if let s = o.value("--state") { options.stateDir = s }
      options.dryRun = o.has("--dry-run")
      options.labels = o.all("--label")
      options.reportKept = !o.has("--quiet")
      let detailed = o.has("--detailed-exitcodes")
      let report: ApplyReport
      do throws(AgentError) {
        report = try apply(options)
      } catch {
        if case .policy = error {
          writeError(heading: "policy rejected, nothing changed:", error)
        } else {
          writeError("apply", "\(error)")
        }
        // 2 means "repaired" here: a rejected policy or bad input is Puppet's 1.
        let code = exitCode(for: error)
        return detailed && code == ExitCode.usage ? ExitCode.failed : code
      }
      var out = ""
      for r in report.results {
        let o = r.outcome
        // A reason quotes paths and a command's output: escaped, one line per promise.
        let reason = escapedText(o.reason)
        if options.dryRun && o.status == .repaired {
          out += "would-repair \(r.id): \(reason)\n"
          out += diffForTerminal(r.diff)
        } else {
          out += o.reason.isEmpty ? "\(o.status.name) \(r.id)\n" : "\(o.status.name) \(r.id): \(reason)\n"
        }
      }
      out += "policy \(escapedText(report.policyName)): \(report.summary)\(options.dryRun ? " (dry run, nothing changed)" : "")\n"
      writeStdout(out)
      if detailed { return ExitCode.detailed(report.summary) }
      return report.summary.failed > 0 ? ExitCode.failed : ExitCode.ok
    }
  }
}

/// A dry run's diff as the terminal shows it: tabs and backslashes as they are in the file (a
/// diff is read, not parsed), any other control character escaped so that file content cannot
/// drive the operator's terminal.
func diffForTerminal(_ diff: String) -> String {
  var out = ""
  for line in diff.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
    let l = String(line)
    var unsafe = false
    for b in l.utf8 where (b < 0x20 && b != 0x09) || b == 0x7F { unsafe = true; break }
    out += (unsafe || l.unicodeScalars.contains { $0.value >= 0x80 && $0.value <= 0x9F } ? escapedText(l) : l) + "\n"
  }
  return out
}
