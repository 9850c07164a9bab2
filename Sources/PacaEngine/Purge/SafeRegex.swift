/// A regular expression for purges that no pattern can make slow: compiled to a Thompson NFA and
/// run by simulating every state at once, so matching costs O(text × pattern) with no
/// backtracking — a hostile `(a+)+$` takes as long as `a+`. Anchored at both ends (it must match
/// the whole `path?query`). Patterns are limited to 1,000 characters and 10,000 NFA states.
///
/// Syntax: literals; `.`; classes `[abc]`, `[a-z]`, `[^…]`; escapes `\d \w \s \D \W \S` and
/// `\` before any punctuation; groups `(…)` and `(?:…)`; alternation `|`; quantifiers `*`, `+`,
/// `?` and `{m}`, `{m,}`, `{m,n}` (n ≤ 100); a leading `^` and trailing `$` are accepted (the
/// match is anchored anyway). Back-references and look-around are refused: they cannot run in
/// linear time.
public struct SafeRegex: Sendable {
    /// Why a pattern was refused.
    public struct CompileError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, and where.
        public var message: String
        public var description: String { message }
    }

    /// The longest pattern accepted.
    public static let maxPatternLength = 1000
    /// The most NFA states a pattern may compile to.
    public static let maxStates = 10_000

    private enum Node: Sendable {
        /// Consumes one byte in the set, then goes to `next`.
        case byte(ByteSet, next: Int)
        /// Goes to both without consuming.
        case split(Int, Int)
        /// Goes to `next` without consuming.
        case jump(Int)
        /// The whole pattern matched.
        case match
    }

    /// 256 bits.
    private struct ByteSet: Sendable {
        var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        mutating func insert(_ byte: UInt8) {
            let bit = UInt64(1) << UInt64(byte & 63)
            switch byte >> 6 {
            case 0: bits.0 |= bit
            case 1: bits.1 |= bit
            case 2: bits.2 |= bit
            default: bits.3 |= bit
            }
        }

        func contains(_ byte: UInt8) -> Bool {
            let bit = UInt64(1) << UInt64(byte & 63)
            switch byte >> 6 {
            case 0: return bits.0 & bit != 0
            case 1: return bits.1 & bit != 0
            case 2: return bits.2 & bit != 0
            default: return bits.3 & bit != 0
            }
        }

        mutating func invert() {
            bits = (~bits.0, ~bits.1, ~bits.2, ~bits.3)
        }

        mutating func formUnion(_ other: ByteSet) {
            bits = (bits.0 | other.bits.0, bits.1 | other.bits.1, bits.2 | other.bits.2, bits.3 | other.bits.3)
        }

        static func range(_ low: UInt8, _ high: UInt8) -> ByteSet {
            var set = ByteSet()
            if low <= high { for byte in low...high { set.insert(byte) } }
            return set
        }
    }

    /// The parse tree.
    private indirect enum Expression {
        case set(ByteSet)
        case sequence([Expression])
        case alternation([Expression])
        case repeated(Expression, min: Int, max: Int?)
        case empty
    }

    private let nodes: [Node]
    private let start: Int
    /// The pattern as written.
    public let pattern: String

    /// Compiles `pattern`.
    public init(_ pattern: String) throws(CompileError) {
        guard pattern.utf8.count <= Self.maxPatternLength else {
            throw CompileError(message: "regex longer than \(Self.maxPatternLength) characters")
        }
        self.pattern = pattern
        var parser = Parser(bytes: Array(pattern.utf8))
        var expression = try parser.parseAlternation()
        guard parser.position == parser.bytes.count else { throw parser.error("unexpected ')'") }
        if case .sequence(let items) = expression, items.isEmpty { expression = .empty }
        var builder = Builder()
        let accept = builder.add(.match)
        start = try builder.compile(expression, next: accept)
        nodes = builder.nodes
    }

    /// Whether the whole of `text` matches.
    public func matches(_ text: Substring) -> Bool {
        var current = Set<Int>()
        var next = Set<Int>()
        addState(start, to: &current)
        for byte in text.utf8 {
            guard !current.isEmpty else { return false }
            next.removeAll(keepingCapacity: true)
            for state in current {
                if case .byte(let set, let target) = nodes[state], set.contains(byte) { addState(target, to: &next) }
            }
            swap(&current, &next)
        }
        return current.contains { if case .match = nodes[$0] { true } else { false } }
    }

    /// Adds `state` and every state it reaches without consuming (the ε-closure).
    private func addState(_ state: Int, to set: inout Set<Int>) {
        var stack = [state]
        while let top = stack.popLast() {
            guard set.insert(top).inserted else { continue }
            switch nodes[top] {
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .jump(let target):
                stack.append(target)
            case .byte, .match:
                break
            }
        }
    }

    // MARK: - Parsing

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        func error(_ message: String) -> CompileError {
            CompileError(message: "regex: \(message) at offset \(position)")
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func parseAlternation() throws(CompileError) -> Expression {
            var branches = [try parseSequence()]
            while peek == UInt8(ascii: "|") {
                position += 1
                branches.append(try parseSequence())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func parseSequence() throws(CompileError) -> Expression {
            var items: [Expression] = []
            while let byte = peek, byte != UInt8(ascii: "|"), byte != UInt8(ascii: ")") {
                if byte == UInt8(ascii: "^"), position == 0 {
                    position += 1
                    continue
                }
                if byte == UInt8(ascii: "$"), position == bytes.count - 1 {
                    position += 1
                    continue
                }
                var atom = try parseAtom()
                atom = try parseQuantifiers(atom)
                items.append(atom)
            }
            return .sequence(items)
        }

        mutating func parseQuantifiers(_ atom: Expression) throws(CompileError) -> Expression {
            var atom = atom
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "*"):
                    position += 1
                    atom = .repeated(atom, min: 0, max: nil)
                case UInt8(ascii: "+"):
                    position += 1
                    atom = .repeated(atom, min: 1, max: nil)
                case UInt8(ascii: "?"):
                    position += 1
                    atom = .repeated(atom, min: 0, max: 1)
                case UInt8(ascii: "{"):
                    position += 1
                    let low = try number()
                    var high: Int? = low
                    if peek == UInt8(ascii: ",") {
                        position += 1
                        high = peek == UInt8(ascii: "}") ? nil : try number()
                    }
                    guard peek == UInt8(ascii: "}") else { throw error("expected '}'") }
                    position += 1
                    guard low <= 100, (high ?? 0) <= 100, low <= (high ?? low) else { throw error("repetition bounds above 100") }
                    atom = .repeated(atom, min: low, max: high)
                default:
                    return atom
                }
                if peek == UInt8(ascii: "?") || peek == UInt8(ascii: "+") {
                    // Lazy or possessive suffixes change nothing for a whole-string match.
                    position += 1
                }
            }
            return atom
        }

        mutating func number() throws(CompileError) -> Int {
            var value = 0
            var digits = 0
            while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 4 {
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                position += 1
            }
            guard digits > 0 else { throw error("expected a number") }
            return value
        }

        mutating func parseAtom() throws(CompileError) -> Expression {
            guard let byte = peek else { throw error("unexpected end") }
            position += 1
            switch byte {
            case UInt8(ascii: "("):
                if peek == UInt8(ascii: "?") {
                    guard position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: ":") else {
                        throw error("look-around and named groups are not supported")
                    }
                    position += 2
                }
                let inner = try parseAlternation()
                guard peek == UInt8(ascii: ")") else { throw error("missing ')'") }
                position += 1
                return inner
            case UInt8(ascii: "."):
                var any = ByteSet()
                any.invert()
                return .set(any)
            case UInt8(ascii: "["):
                return .set(try parseClass())
            case UInt8(ascii: "\\"):
                return .set(try parseEscape())
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
                throw error("nothing to repeat")
            default:
                var set = ByteSet()
                set.insert(byte)
                return .set(set)
            }
        }

        mutating func parseEscape() throws(CompileError) -> ByteSet {
            guard let byte = peek else { throw error("trailing backslash") }
            position += 1
            var set = ByteSet()
            switch byte {
            case UInt8(ascii: "d"): set = .range(UInt8(ascii: "0"), UInt8(ascii: "9"))
            case UInt8(ascii: "D"):
                set = .range(UInt8(ascii: "0"), UInt8(ascii: "9"))
                set.invert()
            case UInt8(ascii: "w"), UInt8(ascii: "W"):
                set = .range(UInt8(ascii: "a"), UInt8(ascii: "z"))
                set.formUnion(.range(UInt8(ascii: "A"), UInt8(ascii: "Z")))
                set.formUnion(.range(UInt8(ascii: "0"), UInt8(ascii: "9")))
                set.insert(UInt8(ascii: "_"))
                if byte == UInt8(ascii: "W") { set.invert() }
            case UInt8(ascii: "s"), UInt8(ascii: "S"):
                for space in [9, 10, 11, 12, 13, 32] as [UInt8] { set.insert(space) }
                if byte == UInt8(ascii: "S") { set.invert() }
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                throw error("back-references are not supported")
            default:
                guard !(byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) && !(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                else { throw error("unknown escape") }
                set.insert(byte)
            }
            return set
        }

        mutating func parseClass() throws(CompileError) -> ByteSet {
            var set = ByteSet()
            var negate = false
            if peek == UInt8(ascii: "^") {
                negate = true
                position += 1
            }
            var first = true
            while true {
                guard let byte = peek else { throw error("missing ']'") }
                if byte == UInt8(ascii: "]"), !first {
                    position += 1
                    break
                }
                first = false
                position += 1
                var low = byte
                if byte == UInt8(ascii: "\\") {
                    let escaped = try parseEscape()
                    set.formUnion(escaped)
                    continue
                }
                if peek == UInt8(ascii: "-"), position + 1 < bytes.count, bytes[position + 1] != UInt8(ascii: "]") {
                    position += 1
                    guard let high = peek else { throw error("missing ']'") }
                    position += 1
                    guard low <= high else { throw error("range out of order") }
                    set.formUnion(.range(low, high))
                    low = high
                    continue
                }
                set.insert(low)
            }
            if negate { set.invert() }
            return set
        }
    }

    // MARK: - Compiling

    private struct Builder {
        var nodes: [Node] = []

        mutating func add(_ node: Node) -> Int {
            nodes.append(node)
            return nodes.count - 1
        }

        /// Compiles `expression` so that it continues at `next`; returns its entry state.
        mutating func compile(_ expression: Expression, next: Int) throws(CompileError) -> Int {
            guard nodes.count < SafeRegex.maxStates else {
                throw CompileError(message: "regex too complex (over \(SafeRegex.maxStates) states)")
            }
            switch expression {
            case .empty:
                return next
            case .set(let set):
                return add(.byte(set, next: next))
            case .sequence(let items):
                var entry = next
                for item in items.reversed() { entry = try compile(item, next: entry) }
                return entry
            case .alternation(let branches):
                var entries: [Int] = []
                for branch in branches { entries.append(try compile(branch, next: next)) }
                var entry = entries.removeLast()
                for other in entries.reversed() { entry = add(.split(other, entry)) }
                return entry
            case .repeated(let inner, let minimum, let maximum):
                var entry = next
                if let maximum {
                    // Optional copies beyond the minimum, innermost first.
                    for _ in 0..<(maximum - minimum) {
                        let body = try compile(inner, next: entry)
                        entry = add(.split(body, next))
                    }
                } else {
                    // A star: a split that loops back through the body.
                    let loop = add(.jump(0))
                    let body = try compile(inner, next: loop)
                    let split = add(.split(body, entry))
                    nodes[loop] = .jump(split)
                    entry = split
                }
                for _ in 0..<minimum { entry = try compile(inner, next: entry) }
                return entry
            }
        }
    }
}
