import EdgeCore
import EdgeHost


/// `line`: an edit of a file other promises and programs also write (LineEdit.swift): the check
/// and repair are `Converger.checkLine` below.
///
/// Kept is one lstat while the file is unchanged: each line promise has its own stat cache
/// entry (the path's key extended by its id), holding the file's identity when the edit was
/// last found held and, as its digest, the edit's own (`PreparedPromise.digest`), so a changed
/// promise is checked again. Several line promises may edit one file: each publishes the writes
/// staged before it (`publishesFirst`), so it reads what the ones before it wrote.
enum LinePromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    .outcome(try c.checkLine(p, pp, cachedStat: cachedStat))
  }

  static var publishesFirst: Bool { true }

  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    let (st, ok) = f.lstat(v.path, root)
    guard ok else { return nil }
    if v.absent && st == nil { return .kept }
    guard let st, st.kind == .regular else { return nil }
    let key = f.keys.key(v.path, edit: v.id)
    let cached: StatRecord? = key.withBytes { cachedStat($0) }
    if let cached, cached.identity == st.identity, cached.digest == v.digest { return .kept }
    // Not vouched for (the last run wrote it too recently for that, or someone touched it): read
    // and edited as the full check would, and vouched for when settled.
    guard let p = try? PromiseRecord.decode(v.raw), let e = p.edit,
          let text = f.readLast(v.path, root, limit: maxEditedFile), e.apply(to: text, absent: v.absent) == text else { return nil }
    f.remember(key, st, v.digest)
    return .kept
  }
}

/// The largest file a line promise edits: config files, not logs.
let maxEditedFile = 16 << 20

extension Converger {
  func checkLine(_ p: Promise, _ pp: PreparedPromise,
                 cachedStat: (UnsafeRawBufferPointer) -> StatRecord?) throws(HostError) -> Outcome {
    guard let e = p.edit, let spec = pp.digest else { return Outcome(.failed, "line promise without its edit (internal error)") }
    let st = try lstat(pp)
    guard let st else {
      if p.absent { return .kept }
      return Outcome(.failed, "\(p.path) does not exist (a line promise edits a file; a file promise makes one)")
    }
    guard st.kind == .regular else { return Outcome(.failed, "\(p.path) is not a regular file") }
    if let cached = pp.withCacheKey(cachedStat), cached.identity == st.identity, cached.digest == spec { return .kept }

    let dir = try directory(pp.parent, create: false)
    let old: [UInt8]
    do {
      let f = try dir.dir.openForReading(pp.name)
      old = try readWhole(f, path: p.path, limit: maxEditedFile)
    } catch where error.errno == .tooLarge {
      return Outcome(.failed, "\(p.path) is over \(maxEditedFile >> 20) MiB: not a file to edit by lines")
    }
    let new = e.apply(to: old, absent: p.absent)
    if new == old {
      rememberHash(pp, st, spec)
      return .kept
    }
    let what = e.isSetting ? e.key + e.separator + e.value : e.line
    let reason = p.absent ? "removed \(lineCount(old) - lineCount(new)) line(s)"
      : "\"" + what + "\" " + (lineCount(new) > lineCount(old) ? "added" : "set")
    if dryRun {
      diffs[pp.index] = UnifiedDiff().text(old: old, new: new, path: p.path)
      return Outcome(.repaired, "would be: " + reason)
    }
    // The file keeps its mode and owner: the edit is of its lines only.
    let uid = st.uid == effectiveUID() ? -1 : Int(st.uid), gid = st.gid == effectiveGID() ? -1 : Int(st.gid)
    let written = try withBytes(new) { (raw) throws(HostError) -> FileStat in
      try AtomicWrite.stage(dir.dir, pp.name, content: raw, mode: st.permissions, uid: uid, gid: gid, sync: false)
    }
    staged.append(Staged(index: pp.index, directory: dir, name: pp.name, cacheKey: pp.cacheKey, digest: spec,
                         written: written.identity))
    return Outcome(.repaired, reason)
  }
}

private func lineCount(_ b: [UInt8]) -> Int {
  var n = 0
  for c in b where c == 0x0A { n += 1 }
  return n + (b.last.map { $0 == 0x0A ? 0 : 1 } ?? 0)
}
