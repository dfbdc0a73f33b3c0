import EdgeCore
import EdgeHost


/// `directory`: the check and repair are `Converger.checkDirectory` below.
enum DirectoryPromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    .outcome(try c.checkDirectory(p, pp))
  }

  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    let (st, ok) = f.lstat(v.path, root)
    guard ok else { return nil }
    if v.absent { return st == nil ? .kept : nil }
    guard let st, st.kind == .directory else { return nil }
    if v.hasMode && st.permissions != v.mode { return nil }
    return f.ownerKept(v, st) ? .kept : nil
  }
}

extension Converger {
  /// `directory`: exists with mode and owner, or `state: absent` (empty, or anything with `purge`).
  func checkDirectory(_ p: Promise, _ pp: PreparedPromise) throws(HostError) -> Outcome {
    let st = try lstat(pp)
    if p.absent {
      guard let st else { return .kept }
      guard st.kind == .directory else { return Outcome(.failed, "\(p.path) is not a directory") }
      let dir = try directory(pp.parent, create: false)
      let relative = String(p.path.utf8.dropFirst())!
      if !p.purge {
        let inside = try Directory.open(relative, in: rootDir).entries().count
        if inside > 0 { return Outcome(.failed, "\(p.path) is not empty (\(inside) entries; set \"purge\": true to remove them)") }
      }
      if dryRun { return Outcome(.repaired, "would be removed") }
      directories[relative] = nil
      try dir.dir.removeTree(pp.name)
      try dir.dir.sync()
      return Outcome(.repaired, p.purge ? "removed with its contents" : "removed")
    }
    let (uid, gid, problem) = p.owner == nil && p.group == nil ? (-1, -1, nil) : owner(p)
    if let problem { return Outcome(.failed, problem) }
    guard let st else {
      if dryRun { return Outcome(.repaired, "would be created") }
      let parent = try directory(pp.parent, create: true)
      try makeDirectory(parent, pp.parent, pp.name, mode: 0o700)
      if uid >= 0 || gid >= 0 { try parent.dir.setOwner(pp.name, uid: uid, gid: gid) }
      // mkdir applies the umask: set the promised mode explicitly, after the owner.
      try parent.dir.setMode(pp.name, p.mode ?? 0o755)
      try parent.dir.sync()
      return Outcome(.repaired, "created")
    }
    guard st.kind == .directory else {
      return Outcome(.failed, "\(p.path) exists and is not a directory (remove it, or promise it absent)")
    }
    let modeKept = p.mode == nil || st.permissions == p.mode!
    let ownerKept = (uid < 0 || st.uid == UInt32(uid)) && (gid < 0 || st.gid == UInt32(gid))
    if modeKept && ownerKept { return .kept }
    var reasons: [String] = []
    if !modeKept { reasons.append("mode \(octal(st.permissions)) -> \(octal(p.mode!))") }
    if !ownerKept { reasons.append("owner \(st.uid):\(st.gid) -> \(uid < 0 ? st.uid : UInt32(uid)):\(gid < 0 ? st.gid : UInt32(gid))") }
    if dryRun { return Outcome(.repaired, "would be: " + joined(reasons)) }
    let parent = try directory(pp.parent, create: false)
    if !ownerKept { try parent.dir.setOwner(pp.name, uid: uid, gid: gid) }
    if !modeKept || (!ownerKept && st.permissions & 0o6000 != 0) { try parent.dir.setMode(pp.name, p.mode ?? st.permissions) }
    return Outcome(.repaired, joined(reasons))
  }
}
