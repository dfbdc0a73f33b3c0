import EdgeConverge
import EdgeCore
import EdgeHost

/// `edgeagent facts [--root DIR] [--state DIR] [--label NAME]... [--json]`
enum FactsCommand {
  static let usage = """
    usage: edgeagent facts [--root DIR] [--state DIR] [--label NAME]... [--json]

    Shows what this host knows of itself: the facts templates see ({{facts.NAME}}, or
    {{NAME}}) and the classes `if` expressions see. Reads; changes nothing.
      --root DIR     the managed root whose os-release names the distribution (default /)
      --state DIR    the state whose host id to show (default under --root)
      --label NAME   a label, as `apply --label` and the config's labels (repeatable)
      --json         machine-readable output
    Exit: 0, 2 usage, 111 system error.

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--root", "--state", "--label"], flags: ["--json"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("facts takes no arguments") }
      do throws(AgentError) {
        let (facts, classes) = try hostFacts(root: o.value("--root") ?? "/", stateDir: o.value("--state"), labels: o.all("--label"))
        writeStdout(o.has("--json") ? factsJSON(facts, classes: classes) : factsText(facts, classes: classes))
        return ExitCode.ok
      } catch {
        writeError("facts", "\(error)")
        return exitCode(for: error)
      }
    }
  }
}
