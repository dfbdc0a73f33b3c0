/// The order in which a policy's promises are checked: a topological order over `after` and the
/// implied edges, ties kept in source order. Implied: a path after the promise that manages its
/// nearest managed ancestor (when both are `absent`, the child goes first so the parent can be
/// removed), and a notified promise after the promise that notifies it, so that a repair's
/// notification reaches it in the same run.
///
/// A dangling reference or a cycle rejects the whole policy, naming the ids.
public enum Plan {
  public static func order(_ promises: [Promise]) throws(PolicyError) -> [Int] {
    let n = promises.count
    // Ids and owned paths are indexed by hash (`IndexTable`, 2 MB each at 100,000 promises): two
    // `[String: Int]` of them took 6.3 MB each, beside the policy, when it was planned.
    // Only `after` and `notify` name ids: a policy without them (100,000 files) builds no index.
    var ids = IndexTable()
    if promises.contains(where: { !$0.after.isEmpty || !$0.notify.isEmpty }) {
      ids.reserve(n)
      for i in 0..<n { ids.insert(IndexTable.hash(0, promises[i].id), i) }
    }
    func indexOfId(_ id: String) -> Int? { ids.find(IndexTable.hash(0, id)) { promises[$0].id == id } }
    var paths = IndexTable()
    paths.reserve(n)
    for i in 0..<n where promises[i].type.ownsPath { paths.insert(IndexTable.hash(0, promises[i].path), i) }
    func indexOfPath(_ path: String) -> Int? {
      paths.find(IndexTable.hash(0, path)) { promises[$0].type.ownsPath && promises[$0].path == path }
    }
    // Accounts before what names them: a group before its users, a user or group before the
    // files and services owned by it.
    var userIndex: [String: Int] = [:], groupIndex: [String: Int] = [:]
    for i in 0..<n {
      guard let a = promises[i].account else { continue }
      if promises[i].type == .user { userIndex[a.name] = i } else { groupIndex[a.name] = i }
    }

    // Edges gather in one list and become one adjacency array (`Successors`): an array per
    // promise with successors cost an allocation or more each.
    var edges: [Edge] = []
    edges.reserveCapacity(n)   // a path's parent is one edge per promise; `after` may add more
    var indegree = [Int32](repeating: 0, count: n)
    var issues: [PolicyIssue] = []
    var dropped = 0
    // As the decoder does: the first maxIssues are kept, the rest counted.
    func note(_ issue: PolicyIssue) {
      if issues.count < PolicyDecoder.maxIssues { issues.append(issue) } else { dropped += 1 }
    }
    func edge(_ from: Int, _ to: Int) {
      edges.append(Edge(from: Int32(from), to: Int32(to)))
      indegree[to] += 1
    }
    for i in 0..<n {
      let p = promises[i]
      for dep in p.after {
        guard let d = indexOfId(dep) else {
          // Another bundle's (`baseline/ID` in a team's policy): the composition with the
          // baseline resolves it (TeamComposition.swift); the decoder refused it anywhere else.
          if dep.utf8.contains(UInt8(ascii: "/")) { continue }
          note(PolicyIssue("\"after\" names unknown promise \"\(dep)\"", at: p.position, promise: p.id, key: "after"))
          continue
        }
        if d == i {
          note(PolicyIssue("a promise cannot be after itself", at: p.position, promise: p.id, key: "after"))
          continue
        }
        edge(d, i)
      }
      for target in p.notify {
        guard let t = indexOfId(target) else {
          note(PolicyIssue("\"notify\" names unknown promise \"\(target)\"", at: p.position, promise: p.id, key: "notify"))
          continue
        }
        if t == i {
          note(PolicyIssue("a promise cannot notify itself", at: p.position, promise: p.id, key: "notify"))
          continue
        }
        edge(i, t)
      }
      if !userIndex.isEmpty || !groupIndex.isEmpty {
        func implied(_ d: Int?) {
          // An absent account goes after what it owned stops naming it; that order is the
          // policy's own to give (`after`): no edge either way.
          guard let d, d != i, !promises[d].absent else { return }
          edge(d, i)
        }
        if let o = p.owner { implied(userIndex[o]) }
        if let g = p.group { implied(groupIndex[g]) }
        for g in p.account?.groups ?? [] { implied(groupIndex[g]) }
      }
      if p.type.managesPath {
        var dir = parentPath(p.path)
        while dir != "/" {
          if let d = indexOfPath(dir) {
            if promises[d].absent && p.absent { edge(i, d) } else { edge(d, i) }
            break
          }
          dir = parentPath(dir)
        }
      }
    }
    if dropped > 0 { issues.append(PolicyIssue("and \(dropped) more issues", at: .none)) }
    if !issues.isEmpty { throw PolicyError(issues) }
    // The edges are found: the indexes go before the adjacency and the order are made.
    ids = IndexTable()
    paths = IndexTable()
    let successors = Successors(n, edges)
    edges = []

    var order: [Int] = []
    order.reserveCapacity(n)
    for i in 0..<n where indegree[i] == 0 { order.append(i) }
    var head = 0
    while head < order.count {
      let i = order[head]
      head += 1
      for s in successors.of(i) {
        indegree[Int(s)] -= 1
        if indegree[Int(s)] == 0 { order.append(Int(s)) }
      }
    }
    if order.count == n { return order }
    throw PolicyError(cycleIssue(promises, successors, indegree))
  }

  /// Finds one cycle among the promises left with a non-zero indegree and names it.
  private static func cycleIssue(_ promises: [Promise], _ successors: Successors, _ indegree: [Int32]) -> PolicyIssue {
    // A node left over still has a predecessor that is left over (its count never reached 0), so
    // walking predecessors never stops and must revisit a node: that revisit closes a cycle.
    var predecessor = [Int](repeating: -1, count: promises.count)
    for i in 0..<promises.count where indegree[i] > 0 {
      for s in successors.of(i) where indegree[Int(s)] > 0 { predecessor[Int(s)] = i }
    }
    var start = 0
    while indegree[start] == 0 { start += 1 }
    var seenAt = [Int](repeating: -1, count: promises.count)
    var walk: [Int] = []
    var i = start
    while seenAt[i] < 0 {
      seenAt[i] = walk.count
      walk.append(i)
      i = predecessor[i]
    }
    // `walk` follows edges backwards: reverse the cycle so it reads in check order.
    let cycle = Array(walk[seenAt[i]...].reversed())
    var names = ""
    for c in cycle { names += promises[c].id + " -> " }
    names += promises[cycle[0]].id
    let first = promises[cycle[0]]
    return PolicyIssue("dependency cycle: \(names)", at: first.position, promise: first.id, key: "after")
  }
}

private struct Edge {
  var from: Int32
  var to: Int32
}

/// Every promise's successors in one array, those of promise i at `targets[start[i]..<start[i+1]]`
/// in the order their edges were found (which keeps ties in the order they always had).
private struct Successors {
  var start: [Int32]
  var targets: [Int32]

  init(_ n: Int, _ edges: [Edge]) {
    var start = [Int32](repeating: 0, count: n + 1)
    for e in edges { start[Int(e.from) + 1] += 1 }
    for i in 0..<n { start[i + 1] += start[i] }
    var next = start
    var targets = [Int32](repeating: 0, count: edges.count)
    for e in edges {
      targets[Int(next[Int(e.from)])] = e.to
      next[Int(e.from)] += 1
    }
    self.start = start
    self.targets = targets
  }

  func of(_ i: Int) -> ArraySlice<Int32> { targets[Int(start[i])..<Int(start[i + 1])] }
}
