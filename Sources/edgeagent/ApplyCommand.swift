import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore

/// `edgeagent apply POLICY [--root DIR] [--state DIR] [--dry-run] [--label NAME]... [--quiet]`
enum ApplyCommand {
  static let usage = """
    usage: edgeagent apply POLICY [--root DIR] [--state DIR] [--dry-run] [--label NAME]... [--quiet]

    Converges the host once to the promises in POLICY (JSON) and prints each outcome.
      --root DIR     prefix every managed path with DIR (a sandbox; default /)
      --state DIR    LMDB state directory (default \(StateLayout.defaultDirectory))
      --dry-run      report what would change; change nothing, not even the state
      --label NAME   define a class for `if` expressions (repeatable)
      --quiet        print only repairs, failures and the summary
    Exit: 0 all kept or repaired, 1 some failed, 2 policy rejected (nothing touched), 111 system error.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--root", "--state", "--label"], flags: ["--dry-run", "--quiet"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.count == 1 else { throw UsageError(o.positional.isEmpty ? "apply needs a POLICY file" : "apply takes one POLICY file") }
      var options = ApplyOptions(policyPath: o.positional[0])
      options.root = o.value("--root") ?? "/"
      options.stateDir = o.value("--state") ?? StateLayout.defaultDirectory
      options.dryRun = o.has("--dry-run")
      options.labels = o.all("--label")
      options.reportKept = !o.has("--quiet")
      let report: ApplyReport
      do throws(AgentError) {
        report = try apply(options)
      } catch {
        if case .policy = error {
          writeError(heading: "policy rejected, nothing changed:", error)
        } else {
          writeError("apply", "\(error)")
        }
        return exitCode(for: error)
      }
      var out = ""
      for r in report.results {
        let o = r.outcome
        // A reason quotes paths and a command's output: escaped, one line per promise.
        let reason = escapedText(o.reason)
        if options.dryRun && o.status == .repaired {
          out += "would-repair \(r.id): \(reason)\n"
        } else {
          out += o.reason.isEmpty ? "\(o.status.name) \(r.id)\n" : "\(o.status.name) \(r.id): \(reason)\n"
        }
      }
      out += "policy \(escapedText(report.policyName)): \(report.summary)\(options.dryRun ? " (dry run, nothing changed)" : "")\n"
      writeStdout(out)
      return report.summary.failed > 0 ? ExitCode.failed : ExitCode.ok
    }
  }
}
