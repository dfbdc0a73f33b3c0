import EdgeCore
import EdgeHost


/// `link`: the check and repair are `Converger.checkLink` below.
enum LinkPromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    .outcome(try c.checkLink(p, pp))
  }

  /// The target is read into the verifier's buffer and compared byte by byte: no String.
  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    let (st, ok) = f.lstat(v.path, root)
    guard ok else { return nil }
    if v.absent { return st == nil ? .kept : nil }
    guard let st, st.kind == .symlink else { return nil }
    // `lstat` left the path, NUL-terminated, in `f.path`.
    let n = f.path.withUnsafeBufferPointer { p in
      f.link.withUnsafeMutableBytes { l in root.readLinkBeneath(p.baseAddress!, into: UnsafeMutableRawBufferPointer(rebasing: l[0..<4096])) }
    }
    guard let n, n == v.target.count else { return nil }
    for i in 0..<n where f.link[i] != v.target[i] { return nil }
    return f.ownerKept(v, st) ? .kept : nil
  }
}

extension Converger {
  /// `link`: a symlink with this target (replaced atomically: a new link renamed over the old),
  /// or `state: absent`. A file or directory in the way is a failure, never removed.
  func checkLink(_ p: Promise, _ pp: PreparedPromise) throws(HostError) -> Outcome {
    let st = try lstat(pp)
    if let st, st.kind != .symlink {
      return Outcome(.failed, "\(p.path) exists and is not a symlink")
    }
    if p.absent {
      guard st != nil else { return .kept }
      if dryRun { return Outcome(.repaired, "would be removed") }
      let dir = try directory(pp.parent, create: false)
      try dir.dir.remove(pp.name, directory: false)
      try dir.dir.sync()
      return Outcome(.repaired, "removed")
    }
    let (uid, gid, problem) = p.owner == nil && p.group == nil ? (-1, -1, nil) : owner(p)
    if let problem { return Outcome(.failed, problem) }
    var reason = "created"
    if let st {
      let dir = try directory(pp.parent, create: false)
      let current = try dir.dir.readLink(pp.name) ?? ""
      let ownerKept = (uid < 0 || st.uid == UInt32(uid)) && (gid < 0 || st.gid == UInt32(gid))
      if current == p.target {
        if ownerKept { return .kept }
        let change = "owner \(st.uid):\(st.gid) -> \(uid < 0 ? st.uid : UInt32(uid)):\(gid < 0 ? st.gid : UInt32(gid))"
        if dryRun { return Outcome(.repaired, "would be: " + change) }
        try dir.dir.setOwner(pp.name, uid: uid, gid: gid)
        return Outcome(.repaired, change)
      }
      reason = "target \"\(current)\" -> \"\(p.target)\""
    }
    if dryRun { return Outcome(.repaired, "would be " + (st == nil ? "created" : reason)) }
    let dir = try directory(pp.parent, create: true)
    madeEntry(in: pp.parent)
    let tmp = AtomicWrite.temporaryName(pp.name)
    do { try dir.dir.remove(tmp, directory: false) } catch where error.errno == .noEntry {} catch { throw error }
    try dir.dir.symlink(tmp, target: p.target)
    if uid >= 0 || gid >= 0 { try dir.dir.setOwner(tmp, uid: uid, gid: gid) }
    try dir.dir.rename(tmp, to: pp.name)
    try dir.dir.sync()
    return Outcome(.repaired, reason)
  }
}
