import EdgeCore
import EdgeHost

/// Rendering at acceptance: each `template` promise's text (inline, or its blob) rendered with
/// the policy's vars, the `class_vars` whose classes hold, and the host's facts, into the
/// promise's `content`, before the policy is put in force. From then on a template is checked
/// and repaired as a file (TemplatePromise.swift), and its stored record holds the rendering,
/// so a kept template is one lstat. A template that does not render (a name neither a var nor
/// a fact, a blob that is missing) refuses the whole policy, naming the promise, the template's
/// line:column and the name: nothing is touched, the last good policy stays in force.
public func renderTemplates(_ policy: inout Policy, facts: HostFacts, classes: Set<String>,
                            blob: (Digest) -> [UInt8]?) throws(PolicyError) {
  guard policy.hasTemplates else { return }
  let contexts = templateContexts(facts: facts, vars: policy.vars, classVars: policy.classVars,
                                  isDefined: { classes.contains($0) })
  var issues: [PolicyIssue] = []
  for i in policy.promises.indices where policy.promises[i].type == .template {
    let p = policy.promises[i]
    var text = p.template
    if text == nil, let d = p.source {
      text = blob(d)
      if text == nil { issues.append(PolicyIssue("template blob \(d) is not in the state", at: p.position, promise: p.id, key: "source")) }
    }
    guard let text else { continue }
    do throws(TemplateError) {
      let rendered = try MustacheTemplate(parsing: text).render(contexts)
      policy.setRendering(i, template: text, content: rendered)
    } catch {
      issues.append(PolicyIssue(error.description, at: p.position, promise: p.id, key: p.source == nil ? "template" : "source"))
    }
  }
  if !issues.isEmpty { throw PolicyError(issues) }
}

/// The pseudo-class that stands for the facts a policy's templates were rendered with, in the
/// class digest a run records: `apply`'s in-place check then sees a changed fact (an address, a
/// hostname) as it sees a changed class, and renders again on the full path. A class name never
/// holds '=', so no `if` can name it.
public func factsClass(_ facts: HostFacts) -> String {
  var w = JSONWriter()
  w.node(facts.json)
  return "facts=" + SHA256.hash(w.bytes).hex
}
