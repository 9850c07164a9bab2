import PacaCore

/// A binary min-heap of refresh check times by key (duplicates allowed: the planner checks the
/// entry itself when an item comes up).
struct RefreshDueHeap: Sendable {
    private var items: [(due: UnixMillis, key: String)] = []

    var count: Int { items.count }

    mutating func insert(key: String, due: UnixMillis) {
        items.append((due, key))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].due < items[parent].due else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest item if it is due by `now`.
    mutating func popFirst(dueBy now: UnixMillis) -> (due: UnixMillis, key: String)? {
        guard let first = items.first, first.due <= now else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].due < items[smallest].due { smallest = left }
            if right < items.count, items[right].due < items[smallest].due { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
