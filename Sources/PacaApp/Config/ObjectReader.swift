import PacaCore

/// Reads one JSON object of the configuration, naming the JSON path of every field it rejects.
struct ObjectReader {
    let file: String
    let path: String
    let fields: [String: JSONValue]

    init(file: String, path: String, value: JSONValue) throws(ConfigurationError) {
        guard case .object(let fields) = value else {
            throw ConfigurationError(file: file, path: path, message: "expected an object, got \(value.typeName)")
        }
        self.file = file
        self.path = path
        self.fields = fields
    }

    func error(_ key: String?, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, path: key.map { "\(path).\($0)" } ?? path, message: message)
    }

    /// Refuses keys outside `allowed` (a typo must not silently fall back to a default).
    func allowOnly(_ allowed: Set<String>) throws(ConfigurationError) {
        for key in fields.keys.sorted() where !allowed.contains(key) {
            throw error(key, "unknown field (known fields: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func has(_ key: String) -> Bool {
        if case .some(.null) = fields[key] { return false }
        return fields[key] != nil
    }

    func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let value = fields[key], value != .null else { return nil }
        guard case .string(let text) = value else { throw error(key, "expected a string, got \(value.typeName)") }
        return text
    }

    func nonEmptyString(_ key: String) throws(ConfigurationError) -> String? {
        guard let text = try string(key) else { return nil }
        guard !text.isEmpty else { throw error(key, "must not be empty") }
        return text
    }

    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let value = fields[key], value != .null else { return nil }
        guard case .bool(let flag) = value else { throw error(key, "expected true or false, got \(value.typeName)") }
        return flag
    }

    func integer(_ key: String, range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let value = fields[key], value != .null else { return nil }
        guard case .number(let number) = value, number.rounded() == number, let integer = Int(exactly: number) else {
            throw error(key, "expected a whole number, got \(value.typeName)")
        }
        guard range.contains(integer) else { throw error(key, "must be between \(range.lowerBound) and \(range.upperBound)") }
        return integer
    }

    /// A ratio: a number from 0 to 1, or a percentage string such as `"70%"`.
    func ratio(_ key: String) throws(ConfigurationError) -> Double? {
        guard let value = fields[key], value != .null else { return nil }
        let ratio: Double
        switch value {
        case .number(let number): ratio = number
        case .string(let text) where text.hasSuffix("%"):
            guard let percent = Double(text.dropLast()) else { throw error(key, "expected a percentage such as \"70%\", got \"\(text)\"") }
            ratio = percent / 100
        default: throw error(key, "expected a number from 0 to 1 or a percentage such as \"70%\", got \(value.typeName)")
        }
        guard (0...1).contains(ratio) else { throw error(key, "must be between 0 and 1 (0% and 100%)") }
        return ratio
    }

    /// A duration: `"50ms"`, `"60s"`, `"5m"`, `"1h"`, or a number of seconds.
    func duration(_ key: String) throws(ConfigurationError) -> Duration? {
        guard let value = fields[key], value != .null else { return nil }
        switch value {
        case .string(let text):
            guard let duration = HumanUnits.parseDuration(text) else {
                throw error(key, "expected a duration like \"50ms\", \"60s\", \"5m\" or \"1h\", got \"\(text)\"")
            }
            return duration
        case .number(let seconds) where seconds >= 0 && seconds < 1e9:
            return .milliseconds(Int64(seconds * 1000))
        default:
            throw error(key, "expected a duration like \"60s\", got \(value.typeName)")
        }
    }

    /// A size: `"512KB"`, `"100MB"`, `"1GB"` (1024-based), or a number of bytes.
    func bytes(_ key: String) throws(ConfigurationError) -> Int? {
        guard let value = fields[key], value != .null else { return nil }
        switch value {
        case .string(let text):
            guard let bytes = HumanUnits.parseBytes(text) else {
                throw error(key, "expected a size like \"512KB\", \"100MB\" or \"1GB\", got \"\(text)\"")
            }
            return bytes
        case .number(let number) where number >= 0 && number.rounded() == number && number < 1e18:
            return Int(number)
        default:
            throw error(key, "expected a size like \"100MB\", got \(value.typeName)")
        }
    }

    func object(_ key: String) throws(ConfigurationError) -> ObjectReader? {
        guard let value = fields[key], value != .null else { return nil }
        return try ObjectReader(file: file, path: "\(path).\(key)", value: value)
    }

    func array(_ key: String) throws(ConfigurationError) -> [JSONValue]? {
        guard let value = fields[key], value != .null else { return nil }
        guard case .array(let items) = value else { throw error(key, "expected an array, got \(value.typeName)") }
        return items
    }

    func stringArray(_ key: String) throws(ConfigurationError) -> [String]? {
        guard let items = try array(key) else { return nil }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item, !text.isEmpty else {
                throw ConfigurationError(
                    file: file, path: "\(path).\(key)[\(index)]", message: "expected a non-empty string, got \(item.typeName)")
            }
            result.append(text)
        }
        return result
    }
}
