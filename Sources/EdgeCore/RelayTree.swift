/// Where a relay pulls from, derived from the bundle alone, so that the origin's load per
/// rollout stays at the fan-out however large the fleet grows (DESIGN.md §8).
///
/// The bundle's `relays` list, in its order, is read as a heap-shaped tree of fan-out F
/// (`relay_fanout`): relays 0..<F pull from the origins; relay i (i >= F) pulls from relay
/// i/F - 1. So the origin feeds F relays, each relay feeds at most F relays, and a list of R
/// relays is log_F(R) tiers deep. A parent always comes earlier in the list than its children:
/// a relay can pull neither from itself nor from a descendant, so no cycle can form, whatever
/// the list holds. When a parent is down, a relay tries its grandparent and so on up to the
/// first tier, then the origins. Agents that are not relays keep ranking every listed relay by
/// rendezvous hashing (`PullSchedule.rank`).
public enum RelayTree {
  public static let defaultFanout = 10
  public static let maxFanout = 1000

  /// Indices of the relays that relay `index` pulls from, nearest first (parent, grandparent,
  /// ... up to a first-tier relay); empty for the first tier, which pulls from the origins.
  /// `fanout` is 1 or more.
  public static func ancestors(of index: Int, fanout: Int) -> [Int] {
    let f = max(fanout, 1)
    var out: [Int] = []
    var i = index
    while i >= f {
      i = i / f - 1
      out.append(i)
    }
    return out
  }

  /// Indices of the relays that pull from relay `index` in a list of `count` relays.
  public static func children(of index: Int, count: Int, fanout: Int) -> Range<Int> {
    let f = max(fanout, 1)
    let first = min((index + 1) * f, count)
    return first..<min(first + f, count)
  }
}
