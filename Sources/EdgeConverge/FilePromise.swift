import EdgeCore
import EdgeHost


/// `file`: the check and repair are `Converger.checkFile` below.
enum FilePromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    .outcome(try c.checkFile(p, pp, cachedStat: cachedStat, blob: blob))
  }

  /// One lstat through the parent's directory and a stat cache lookup, as `checkFile`'s kept
  /// path; a file the cache does not vouch for is read and hashed. Not inlined: a template's
  /// check is this one too, and one copy of it is enough (aarch64 -740 bytes).
  @inline(never)
  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    let (st, ok) = f.lstat(v.path, root)
    guard ok else { return nil }
    if v.absent { return st == nil ? .kept : nil }
    guard let st, st.kind == .regular else { return nil }
    if v.hasMode && st.permissions != v.mode { return nil }
    if v.managesContent {
      let key = f.keys.key(v.path)
      let cached: StatRecord? = key.withBytes { cachedStat($0) }
      if let cached, cached.identity == st.identity {
        guard cached.digest == v.digest else { return nil }
      } else {
        // Not vouched for: written by the last run too recently to be (Converger.publish), or
        // touched since. Hashed here as the full check would, and vouched for when settled.
        guard let have = f.hashLast(v.path, root), have == v.digest else { return nil }
        f.remember(key, st, have)
      }
    }
    return f.ownerKept(v, st) ? .kept : nil
  }
}

extension Converger {
  /// `file`: content (inline or blob), mode, owner, group, or `state: absent`.
  ///
  /// The kept path is one lstat and a stat cache lookup: no read, no hash, no allocation. A
  /// miss (new inode, size, mtime or ctime) re-hashes the file and refreshes the cache. Not
  /// inlined, for the reason keptInPlace is not (aarch64 -4.5 KB).
  @inline(never)
  func checkFile(_ p: Promise, _ pp: PreparedPromise,
                 cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                 blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void) throws(HostError) -> Outcome {
    let st = try lstat(pp)
    if p.absent { return try removeFile(p, pp, st) }
    let (uid, gid, problem) = p.owner == nil && p.group == nil ? (-1, -1, nil) : owner(p)
    if let problem { return Outcome(.failed, problem) }

    guard let st, st.kind == .regular else {
      if let st, st.kind == .directory { return Outcome(.failed, "\(p.path) is a directory") }
      if let st, st.kind == .other { return Outcome(.failed, "\(p.path) is not a regular file (device, fifo or socket)") }
      guard let digest = pp.digest else {
        return Outcome(.failed, "\(p.path) does not exist (give \"content\" or \"source\" to create it)")
      }
      let what = st == nil ? "created" : "replaced a symlink with a file"
      if dryRun {
        noteDiff(p, pp, digest: digest, old: nil, blob: blob)
        return Outcome(.repaired, "would be " + what)
      }
      return try stageContent(p, pp, digest: digest, mode: p.mode ?? 0o644, uid: uid, gid: gid, blob: blob, reason: what)
    }

    var contentKept = true
    if let want = pp.digest {
      let cached = pp.withCacheKey(cachedStat)
      if let cached, cached.identity == st.identity {
        contentKept = cached.digest == want
      } else {
        let have = try hash(pp, p.path)
        rememberHash(pp, st, have)
        contentKept = have == want
      }
    }
    let modeKept = p.mode == nil || st.permissions == p.mode!
    let ownerKept = (uid < 0 || st.uid == UInt32(uid)) && (gid < 0 || st.gid == UInt32(gid))
    if contentKept && modeKept && ownerKept { return .kept }

    var reasons: [String] = []
    if !contentKept { reasons.append("content replaced") }
    if !modeKept { reasons.append("mode \(octal(st.permissions)) -> \(octal(p.mode!))") }
    if !ownerKept { reasons.append("owner \(st.uid):\(st.gid) -> \(uid < 0 ? st.uid : UInt32(uid)):\(gid < 0 ? st.gid : UInt32(gid))") }
    if dryRun {
      if !contentKept { noteDiff(p, pp, digest: pp.digest!, old: st, blob: blob) }
      return Outcome(.repaired, "would be: " + joined(reasons))
    }

    if !contentKept {
      // The new inode keeps the old owner unless one is promised.
      let keepUID = uid >= 0 ? uid : (st.uid == effectiveUID() ? -1 : Int(st.uid))
      let keepGID = gid >= 0 ? gid : (st.gid == effectiveGID() ? -1 : Int(st.gid))
      return try stageContent(p, pp, digest: pp.digest!, mode: p.mode ?? st.permissions, uid: keepUID, gid: keepGID,
                              blob: blob, reason: joined(reasons))
    }
    let dir = try directory(pp.parent, create: false)
    if !ownerKept { try dir.dir.setOwner(pp.name, uid: uid, gid: gid) }
    // chown clears set-id bits, so the mode goes last.
    if !modeKept || (!ownerKept && st.permissions & 0o6000 != 0) { try dir.dir.setMode(pp.name, p.mode ?? st.permissions) }
    return Outcome(.repaired, joined(reasons))
  }

  func removeFile(_ p: Promise, _ pp: PreparedPromise, _ st: FileStat?) throws(HostError) -> Outcome {
    guard let st else { return .kept }
    if st.kind == .directory { return Outcome(.failed, "\(p.path) is a directory (use a directory promise to remove it)") }
    if dryRun { return Outcome(.repaired, "would be removed") }
    let dir = try directory(pp.parent, create: false)
    try dir.dir.remove(pp.name, directory: false)
    try dir.dir.sync()
    return Outcome(.repaired, "removed")
  }

  /// Writes the new content to a temporary file; `publish()` renames it into place.
  func stageContent(_ p: Promise, _ pp: PreparedPromise, digest: Digest, mode: UInt32, uid: Int, gid: Int,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void, reason: String) throws(HostError) -> Outcome {
    let dir = try directory(pp.parent, create: true)
    let written: FileStat
    if let content = p.content {
      written = try withBytes(content) { (raw) throws(HostError) -> FileStat in
        try AtomicWrite.stage(dir.dir, pp.name, content: raw, mode: mode, uid: uid, gid: gid, sync: false)
      }
    } else {
      var result: Result<FileStat?, HostError> = .success(nil)
      blob(digest) { raw in
        guard let raw else { return }
        do throws(HostError) {
          result = .success(try AtomicWrite.stage(dir.dir, pp.name, content: raw, mode: mode, uid: uid, gid: gid, sync: false))
        } catch {
          result = .failure(error)
        }
      }
      guard let st = try result.get() else { return Outcome(.failed, "blob \(digest) is not in the store") }
      written = st
    }
    staged.append(Staged(index: pp.index, directory: dir, name: pp.name, cacheKey: pp.cacheKey, digest: digest,
                         written: written.identity))
    return Outcome(.repaired, reason)
  }

  /// lstat of the promise's path beneath the root: a symlinked parent resolves inside the root
  /// as it does for the repair (Directory.open), so a check never vouches for an object outside.
  /// Through the parent's directory when this run has it open (one fstatat); otherwise from the
  /// root (openat2, fstat, close), and the parent is then opened for the next check in it.
  func lstat(_ pp: PreparedPromise) throws(HostError) -> FileStat? {
    if let d = directories[pp.parent] { return try lstatIn(d, pp.name) }
    let r: Result<FileStat?, HostError> = pp.path.withCString { b in
      do throws(HostError) { return .success(try rootDir.statBeneath(b)) } catch { return .failure(error) }
    }
    let st = try r.get()
    // Only when the object exists: a missing parent would throw (and allocate) on every check.
    if st != nil { _ = try directory(pp.parent, create: false) }
    return st
  }

  /// Reads and hashes the file at the promise's path, never through a symlink.
  func hash(_ pp: PreparedPromise, _ path: String) throws(HostError) -> Digest {
    let dir = try directory(pp.parent, create: false)
    let f = try dir.dir.openForReading(pp.name)
    do { return try SHA256.hash(f, buffer: buffer) } catch { throw HostError(error.errno, "read", path) }
  }

  /// For a dry run: the diff that replacing the content would make (UnifiedDiff), by promise
  /// index for the report. Only a dry run reads the old content; what is too large to diff is not
  /// read past UnifiedDiff's bound.
  func noteDiff(_ p: Promise, _ pp: PreparedPromise, digest: Digest, old st: FileStat?,
                blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void) {
    let diff = UnifiedDiff()
    var old: [UInt8] = []
    if let st {
      if st.identity.size > Int64(diff.maxBytes) {
        diffs[pp.index] = "File \(p.path) differs (\(st.identity.size) bytes now, too large to show)\n"
        return
      }
      do throws(HostError) {
        let dir = try directory(pp.parent, create: false)
        let f = try dir.dir.openForReading(pp.name)
        old = try readWhole(f, path: p.path, limit: diff.maxBytes)
      } catch {
        diffs[pp.index] = "File \(p.path) differs (unable to read it: \(error))\n"
        return
      }
    }
    var new: [UInt8]? = p.content
    if new == nil { blob(digest) { raw in if let raw { new = Array(raw) } } }
    guard let new else {
      diffs[pp.index] = "File \(p.path) would get blob \(digest) (not in the store yet: no diff)\n"
      return
    }
    diffs[pp.index] = diff.text(old: old, new: new, path: p.path)
  }

  /// Caches a hash, unless the file changed too recently (StatRecord.vouching).
  func rememberHash(_ pp: PreparedPromise, _ st: FileStat, _ digest: Digest) {
    // The key is the fixed-size digest itself: recording what a check learned allocates nothing
    // once the array has room (the daemon's steady state, and cold-check's measured rounds).
    if let r = StatRecord.vouching(st.identity, digest, observedFrom: observedFrom) { statUpdates.append((pp.cacheKey, r)) }
  }
}
