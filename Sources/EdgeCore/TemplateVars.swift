/// What a template sees, outermost first: the host's facts (by name, `{{hostname}}`, and whole,
/// `{{facts.hostname}}`), then the policy's `vars` with each `class_vars` entry whose classes
/// hold applied in order. A var of a fact's name hides the fact's short name, never `facts.…`.
public func templateContexts(facts: HostFacts, vars: JSONNode?, classVars: [ClassVars],
                             isDefined: (String) -> Bool = { _ in false }) -> [JSONNode] {
  let f = facts.json
  var outer = f.members ?? []
  outer.append(JSONMember(key: "facts", keyPosition: .none, value: f))
  var inner = vars?.members ?? []
  for o in classVars where o.condition.evaluate(isDefined) {
    for m in o.vars {
      if let k = inner.firstIndex(where: { $0.key == m.key }) { inner[k].value = m.value } else { inner.append(m) }
    }
  }
  return [JSONNode(.object(outer), at: .none), JSONNode(.object(inner), at: .none)]
}
