import EdgeCore
import EdgeHost


/// `user` and `group`: the root's account files edited as the shadow tools would (AccountEdit.swift
/// holds the edit; `Converger.checkAccount` below reads, compares and writes).
///
/// Kept is four lstats (passwd, group, shadow, gshadow, in one directory) and a stat cache lookup
/// while none of the files changed: the promise's entry holds passwd's identity and, as its
/// digest, the account's own digest mixed with the other three files' identities. A changed file
/// is read and the account checked again.
enum AccountPromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    .outcome(try c.checkAccount(p, pp, cachedStat: cachedStat))
  }

  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    // Four lstats in /etc, no allocation: StaticStrings, and no array of their results.
    let (passwd, ok0) = StaticString("/etc/passwd").withUTF8Buffer { f.lstat(UnsafeRawBufferPointer($0), root) }
    let (group, ok1) = StaticString("/etc/group").withUTF8Buffer { f.lstat(UnsafeRawBufferPointer($0), root) }
    let (shadow, ok2) = StaticString("/etc/shadow").withUTF8Buffer { f.lstat(UnsafeRawBufferPointer($0), root) }
    let (gshadow, ok3) = StaticString("/etc/gshadow").withUTF8Buffer { f.lstat(UnsafeRawBufferPointer($0), root) }
    guard ok0 && ok1 && ok2 && ok3, let passwd else { return nil }
    let key = StaticString("/etc/passwd").withUTF8Buffer { f.keys.key(UnsafeRawBufferPointer($0), edit: v.id) }
    let cached: StatRecord? = key.withBytes { cachedStat($0) }
    let mixed = accountGuard(v.digest, passwd.identity, group?.identity, shadow?.identity, gshadow?.identity)
    if let cached, cached.identity == passwd.identity, cached.digest == mixed { return .kept }
    // Not vouched for (the last run wrote the files too recently for that, or someone edited
    // them): read and edited as the full check would, and vouched for when settled.
    guard group != nil, let p = try? PromiseRecord.decode(v.raw), let a = p.account,
          let edited = readAccountFiles(&f, root) else { return nil }
    var after = edited
    let problem = p.type == .group ? AccountEdit.group(&after, a, absent: p.absent)
      : AccountEdit.user(&after, a, primary: p.group, absent: p.absent, today: Int(wallClockSeconds() / 86_400))
    guard problem == nil, after == edited else { return nil }
    if p.type == .user, !p.absent, let home = a.home {
      let (st, ok) = home.utf8CString.withUnsafeBytes { f.lstat(UnsafeRawBufferPointer(rebasing: $0.dropLast()), root) }
      guard ok, st != nil else { return nil }
    }
    f.remember(key, passwd, mixed)
    return .kept
  }

  /// The four files read through the verifier (each lstat'ed first, as `readLast` wants).
  private static func readAccountFiles(_ f: inout InPlaceVerifier, _ root: borrowing Directory) -> AccountFiles? {
    var texts: [[UInt8]?] = []
    for name in ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"] {
      let bytes = Array(name.utf8)
      let text: [UInt8]?? = bytes.withUnsafeBytes { raw in
        let (st, ok) = f.lstat(raw, root)
        guard ok else { return .none }
        guard st != nil else { return .some(nil) }
        guard let t = f.readLast(raw, root, limit: 16 << 20) else { return .none }
        return .some(t)
      }
      guard let text else { return nil }
      texts.append(text)
    }
    guard let passwd = texts[0], let group = texts[1] else { return nil }
    return AccountFiles(passwd: passwd, group: group, shadow: texts[2], gshadow: texts[3])
  }
}

/// The account's digest with the identities of the four files mixed in (FNV-1a over their
/// fields): any change to any of them, a file made or removed included, changes it.
func accountGuard(_ spec: Digest, _ passwd: FileIdentity?, _ group: FileIdentity?, _ shadow: FileIdentity?,
                  _ gshadow: FileIdentity?) -> Digest {
  func mix(_ i: FileIdentity?) -> UInt64 {
    guard let i else { return FNV1a.offset }
    var h = FNV1a.mix(FNV1a.offset, i.device)
    h = FNV1a.mix(h, i.inode)
    h = FNV1a.mix(h, UInt64(bitPattern: i.size))
    h = FNV1a.mix(h, UInt64(bitPattern: i.mtime))
    return FNV1a.mix(h, UInt64(bitPattern: i.ctime))
  }
  return Digest(w0: spec.w0 ^ mix(passwd), w1: spec.w1 ^ mix(group), w2: spec.w2 ^ mix(shadow), w3: spec.w3 ^ mix(gshadow))
}

extension Converger {
  func checkAccount(_ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?) throws(HostError) -> Outcome {
    guard let a = p.account, let spec = pp.digest else { return Outcome(.failed, "\(p.type.name) promise without its account (internal error)") }
    let etc = try directory("etc", create: false)
    // The kept path allocates nothing: four lstats and a lookup, no array.
    let passwdSt = try lstatIn(etc, "passwd"), groupSt = try lstatIn(etc, "group")
    let shadowSt = try lstatIn(etc, "shadow"), gshadowSt = try lstatIn(etc, "gshadow")
    guard let passwdStat = passwdSt, groupSt != nil else {
      return Outcome(.failed, "\(join(root, "etc/passwd")) and \(join(root, "etc/group")) must exist")
    }
    let guardDigest = accountGuard(spec, passwdStat.identity, groupSt?.identity, shadowSt?.identity, gshadowSt?.identity)
    if let cached = pp.withCacheKey(cachedStat), cached.identity == passwdStat.identity, cached.digest == guardDigest { return .kept }
    let names = ["passwd", "group", "shadow", "gshadow"]
    let stats = [passwdSt, groupSt, shadowSt, gshadowSt]

    var texts: [[UInt8]?] = []
    for (k, n) in names.enumerated() {
      guard stats[k] != nil else { texts.append(nil); continue }
      let f = try etc.dir.openForReading(n)
      texts.append(try readWhole(f, path: join(root, "etc/" + n), limit: 16 << 20))
    }
    let original = AccountFiles(passwd: texts[0]!, group: texts[1]!, shadow: texts[2], gshadow: texts[3])
    var edited = original
    let problem = p.type == .group ? AccountEdit.group(&edited, a, absent: p.absent)
      : AccountEdit.user(&edited, a, primary: p.group, absent: p.absent, today: Int(wallClockSeconds() / 86_400))
    if let problem { return Outcome(.failed, problem) }

    // A home directory is made, owned by the user, when the policy names one and it is missing.
    let ids = Accounts(passwd: edited.passwd, group: edited.group)
    var home: (parent: String, name: String, uid: Int, gid: Int)? = nil
    if p.type == .user, !p.absent, let h = a.home, h != "/", let uid = ids.uid(a.name), let gid = ids.primaryGid(a.name) {
      let parent = parentPath(h), name = String(h.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? "")
      let rel = parent == "/" ? "" : String(parent.utf8.dropFirst())!
      let exists: Bool
      do { exists = try lstatIn(try directory(rel, create: false), name) != nil } catch where error.errno == .noEntry { exists = false }
      if !exists { home = (rel, name, Int(uid), Int(gid)) }
    }
    if edited == original && home == nil {
      rememberHash(pp, passwdStat, guardDigest)
      return .kept
    }
    let had = Accounts(passwd: original.passwd, group: original.group)
    let existed = p.type == .user ? had.uid(a.name) != nil && UInt32(a.name) == nil : had.gid(a.name) != nil && UInt32(a.name) == nil
    var reason = p.absent ? "removed" : (existed ? "changed" : "created")
    if !p.absent, !existed {
      reason += p.type == .user ? " (uid \(ids.uid(a.name) ?? 0), gid \(ids.primaryGid(a.name) ?? 0))" : " (gid \(ids.gid(a.name) ?? 0))"
    }
    if let home { reason += (edited == original ? "home " : ", home ") + join(home.parent.isEmpty ? "/" : "/" + home.parent, home.name) + " made" }
    if dryRun {
      // passwd and group only: shadow's hashes are not for a terminal.
      let diff = UnifiedDiff()
      diffs[pp.index] = diff.text(old: original.passwd, new: edited.passwd, path: "/etc/passwd") +
        diff.text(old: original.group, new: edited.group, path: "/etc/group")
      return Outcome(.repaired, "would be " + reason)
    }
    guard let lock = try lockAccountFiles(etc.dir) else {
      return Outcome(.failed, "\(join(root, "etc/.pwd.lock")) is held by another tool (useradd, passwd, vipw): tried again next run")
    }
    let new = [edited.passwd, edited.group, edited.shadow, edited.gshadow]
    for (k, n) in names.enumerated() {
      guard let text = new[k], let st = stats[k], text != texts[k] else { continue }
      try withBytes(text) { (raw) throws(HostError) in
        try AtomicWrite.replace(etc.dir, n, content: raw, mode: st.permissions,
                                uid: st.uid == effectiveUID() ? -1 : Int(st.uid), gid: st.gid == effectiveGID() ? -1 : Int(st.gid))
      }
    }
    // Owners named later in this run resolve against the new files.
    accountsCache = nil
    if let home {
      let parent = try directory(home.parent, create: true)
      try makeDirectory(parent, home.parent, home.name, mode: 0o750)
      try parent.dir.setOwner(home.name, uid: home.uid, gid: home.gid)
      try parent.dir.setMode(home.name, 0o750)
    }
    _ = consume lock   // closing it releases the lock
    return Outcome(.repaired, reason)
  }
}
