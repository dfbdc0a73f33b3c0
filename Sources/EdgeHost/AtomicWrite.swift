import CEdge
import EdgeCore

/// Replacing a file so that a crash at any moment leaves either the old content or the new,
/// never a mix: the new bytes go to a temporary file in the same directory, which is made
/// durable and then renamed over the target, and the directory is made durable after that.
///
/// It is split in two so a run can batch: `stage` writes the temporary file (no fsync), a run
/// then syncs each filesystem once (`syncfs`), and `publish` renames. For one file,
/// `replace` does all of it with fsync.
public enum AtomicWrite {
  /// The temporary name for `name`: fixed, so that one left by a crash is found and replaced by
  /// the next run instead of piling up, and dot-prefixed so globs skip it.
  public static func temporaryName(_ name: String) -> String { "." + name + ".edgeagent-new" }

  /// Writes `content` to the temporary file for `name` in `dir`, with mode and owner set before
  /// any data, so the new file is never visible with looser permissions. Returns the staged
  /// file's status after the write: what the file must still look like once published for its
  /// content to be the one written. `uid`/`gid` of -1 leave them as the agent's.
  @discardableResult
  public static func stage(_ dir: borrowing Directory, _ name: String, content: UnsafeRawBufferPointer,
                           mode: UInt32, uid: Int, gid: Int, sync: Bool) throws(HostError) -> FileStat {
    let tmp = temporaryName(name)
    let at = dir.fd.raw, dirPath = dir.path
    func create() throws(HostError) -> FileDescriptor {
      do { return try FileDescriptor.open(at: at, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600) } catch {
        throw HostError(error.errno, "create", join(dirPath, tmp))
      }
    }
    let f: FileDescriptor
    do {
      f = try create()
    } catch where error.errno == .exists {
      // A temporary left by a crash (or a link planted there: O_EXCL does not follow it): remove
      // it and create again; the content is written anew. Removing only then spares every other
      // write an unlinkat that fails.
      try dir.remove(tmp, directory: false)
      f = try create()
    }
    do {
      if uid >= 0 || gid >= 0 { try f.setOwner(uid: uid, gid: gid) }
      try f.setMode(mode)
      try f.writeAll(content)
      if sync { try f.sync() }
      return try f.stat()
    } catch {
      try? dir.remove(tmp, directory: false)   // as in publish: the first error is the one to report
      throw HostError(error.errno, error.operation, join(dir.path, name))
    }
  }

  /// Renames the staged file over `name`. The caller fsyncs `dir` afterwards (once per directory).
  /// When the rename fails the staged file is removed: the target keeps its old content and the
  /// directory holds nothing of ours.
  public static func publish(_ dir: borrowing Directory, _ name: String) throws(HostError) {
    do {
      try dir.rename(temporaryName(name), to: name)
    } catch {
      // Best effort: the rename's error is the one to report, and a temporary left by a failed
      // removal is replaced by the next stage of the same name.
      try? dir.remove(temporaryName(name), directory: false)
      throw error
    }
  }

  /// stage + publish + directory fsync, for one file.
  public static func replace(_ dir: borrowing Directory, _ name: String, content: UnsafeRawBufferPointer,
                             mode: UInt32, uid: Int = -1, gid: Int = -1) throws(HostError) {
    try stage(dir, name, content: content, mode: mode, uid: uid, gid: gid, sync: true)
    try publish(dir, name)
    try dir.sync()
  }
}
