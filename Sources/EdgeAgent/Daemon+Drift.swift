import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeSupervise

/// Watches on the managed paths' directories and the policy file's: drift re-checks just the
/// touched promises, an edit of the policy reloads it.
extension Daemon {
  /// Watches the directory of every managed path; a change there re-checks just the promises
  /// on that name, after a 1 ms debounce (a rename is two events).
  func rewatch() {
    guard let policy else { return }
    var wanted: [String: [String: [Int]]] = [:]
    for i in order where policy.promises[i].type.managesPath {
      let pp = prepared[i]
      let dir = pp.parent.isEmpty ? root : join(root, pp.parent)
      wanted[dir, default: [:]][pp.name, default: []].append(i)
    }
    for (dir, w) in watchers where wanted[dir] == nil && dir != policyDirectory {
      w.close()
      watchers[dir] = nil
    }
    for dir in wanted.keys where watchers[dir] == nil {
      let w = FileWatcher(loop, path: dir)
      do throws(LoopError) {
        try w.start { [unowned(unsafe) self] name in self.changed(dir, name) }
        watchers[dir] = w
      } catch {
        w.close()   // not there yet: the next run's repair creates it, and rewatches
        if error.errno != .noEntry && error.errno != .notDirectory { watchFailed(dir, error) }
      }
    }
    watched = wanted
  }

  func watchPolicyFile(_ path: String) {
    let dir = parentPath(path)
    policyDirectory = dir
    policyName = String(path.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? "")
    if watchers[dir] != nil { return }
    let w = FileWatcher(loop, path: dir)
    do throws(LoopError) {
      try w.start { [unowned(unsafe) self] name in self.changed(dir, name) }
      watchers[dir] = w
    } catch {
      w.close()
      watchFailed(dir, error)
    }
  }

  /// Without a watch (inotify's per-user instance or watch limit, say), edits and drift are
  /// still found, at the next interval: say so, once per directory and cause.
  func watchFailed(_ dir: String, _ error: LoopError) {
    let key = dir + "\u{0}" + error.errno.description
    guard !watchWarnings.contains(key) else { return }
    watchWarnings.insert(key)
    log.warn("unable to watch, changes are seen at the next interval", [("path", dir), ("err", error.errno.description)])
  }

  func changed(_ dir: String, _ name: String) {
    if dir == policyDirectory && name == policyName {
      // Editors write in several steps: let them finish.
      reloadTimer.start(after: 50) { [unowned(unsafe) self] in
        self.loadPolicy(initial: false)
        self.converge()
      }
      return
    }
    // A watched directory itself changed (removed, renamed, replaced): its watch is gone or
    // follows the old inode. Drop it and converge everything: the promises under it need a
    // check, and the new directory a new watch (rewatch runs after full runs).
    let child = join(dir, name)
    if child != dir, let w = watchers[child] {
      w.close()
      watchers[child] = nil
      fullPending = true
    }
    if let indexes = watched[dir]?[name] {
      for i in indexes { pendingDrift.insert(i) }
    } else if !fullPending {
      return
    }
    driftTimer.start(after: 1) { [unowned(unsafe) self] in
      let only = Array(self.pendingDrift)
      self.pendingDrift.removeAll()
      if self.fullPending {
        self.fullPending = false
        self.converge()
      } else {
        self.converge(only: only)
      }
    }
  }
}
