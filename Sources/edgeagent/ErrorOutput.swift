import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeHost

/// `edgeagent: PREFIX: TEXT` on stderr, with TEXT's control characters escaped: an error echoes
/// paths, ids and reasons that come from a policy, a bundle or a config, and a newline or an
/// ESC in one must not forge a line or reach the operator's terminal.
func writeError(_ prefix: String, _ text: String) {
  writeStderr("edgeagent: \(prefix): \(escapedText(text))\n")
}

/// `edgeagent: HEADING` then each line of `error`, each escaped on its own (a rejected policy
/// lists one issue a line).
func writeError(heading: String, _ error: AgentError) {
  var out = "edgeagent: \(heading)\n"
  for l in error.lines { out += escapedText(l) + "\n" }
  writeStderr(out)
}
