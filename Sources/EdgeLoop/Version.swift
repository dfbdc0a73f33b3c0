import CEdge

/// libuv's version, e.g. "1.44.2".
public func libuvVersion() -> String { String(cString: uv_version_string()) }
