import Foundation
public import PacaCore

/// Why a saved model could not be loaded or saved. Each case names the file.
public enum WarmingModelFileError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read or written.
    case io(path: String, reason: String)
    /// The file is not a paca warming model (another JSON document, or not JSON at all).
    case foreign(path: String)
    /// The file is a paca warming model of a format version this build does not read.
    case unsupportedVersion(path: String, version: Int)
    /// The file claims to be a model but its content is damaged.
    case corrupt(path: String, reason: String)

    /// One line naming the file and what is wrong with it.
    public var description: String {
        switch self {
        case .io(let path, let reason): "\(path): \(reason)"
        case .foreign(let path): "\(path) is not a paca warming model"
        case .unsupportedVersion(let path, let version):
            "\(path) is a paca warming model of version \(version); this build reads version \(WarmingModel.formatVersion)"
        case .corrupt(let path, let reason): "\(path) is a damaged paca warming model: \(reason)"
        }
    }
}

/// The file format: one JSON object, `{"format": "paca-warming", "version": 1, ...}`. Seasonal
/// buckets are stored sparsely (hour → mass). The count-min sketch and the recent-request window
/// are not saved: they refill within minutes.
extension WarmingModel {
    /// The format version `save` writes and `load` reads.
    public static let formatVersion = 1
    static let formatName = "paca-warming"

    private struct Header: Decodable {
        var format: String?
        var version: Int?
    }

    private struct File: Codable {
        var format: String
        var version: Int
        var savedAt: UnixMillis
        var popularity: PopularityModel.Configuration
        var sequence: SequenceModel.Configuration
        var keys: [String: StoredKey]
        var sources: [String: SequenceModel.Source]
    }

    private struct StoredKey: Codable {
        var url: String?
        var short: Double
        var long: Double
        var updatedAt: UnixMillis
        var firstSeen: UnixMillis
        var lastSeen: UnixMillis
        var total: Int
        var seasonAt: UnixMillis
        /// Hour of week (0–167) → mass; hours with none are left out.
        var season: [String: Float]
    }

    /// Writes the model to `path` atomically (a temporary file in the same directory, then a
    /// rename), so a crash mid-save leaves the previous file whole. `savedAt` is recorded.
    public func save(to path: String, savedAt: UnixMillis) throws {
        var keys: [String: StoredKey] = [:]
        for (key, stats) in popularity.keys {
            var season: [String: Float] = [:]
            for (hour, mass) in stats.season.enumerated() where mass > 0 { season[String(hour)] = mass }
            keys[key] = StoredKey(
                url: stats.url, short: stats.shortCount, long: stats.longCount, updatedAt: stats.updatedAt,
                firstSeen: stats.firstSeen, lastSeen: stats.lastSeen, total: stats.total, seasonAt: stats.seasonAt, season: season)
        }
        let file = File(
            format: Self.formatName, version: Self.formatVersion, savedAt: savedAt, popularity: popularity.configuration,
            sequence: sequence.configuration, keys: keys, sources: sequence.sources)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try encoder.encode(file).write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw WarmingModelFileError.io(path: path, reason: "cannot write \(temporary): \(error.localizedDescription)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw WarmingModelFileError.io(path: path, reason: "cannot rename \(temporary): \(reason)")
        }
    }

    /// Reads a model saved by `save(to:savedAt:)`. Throws `WarmingModelFileError` for a missing
    /// or unreadable file, a foreign or newer file, or damaged content; never traps.
    public static func load(from path: String) throws -> WarmingModel {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw WarmingModelFileError.io(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(Header.self, from: data) else {
            // `save` sorts keys, so "format" comes first: a cut or damaged save still starts so.
            if String(decoding: data.prefix(64), as: UTF8.self).hasPrefix("{\"format\":\"\(formatName)\"") {
                throw WarmingModelFileError.corrupt(path: path, reason: "not valid JSON (truncated?)")
            }
            throw WarmingModelFileError.foreign(path: path)
        }
        guard header.format == formatName else { throw WarmingModelFileError.foreign(path: path) }
        guard let version = header.version else { throw WarmingModelFileError.corrupt(path: path, reason: "no version") }
        guard version == formatVersion else { throw WarmingModelFileError.unsupportedVersion(path: path, version: version) }
        let file: File
        do {
            file = try decoder.decode(File.self, from: data)
        } catch {
            throw WarmingModelFileError.corrupt(path: path, reason: Self.describe(error))
        }
        let popularityConfiguration = file.popularity
        let sequenceConfiguration = file.sequence
        guard popularityConfiguration.capacity >= 1, popularityConfiguration.shortHalfLife >= 1,
            popularityConfiguration.longHalfLife >= 1, popularityConfiguration.seasonalHalfLife >= 1,
            sequenceConfiguration.capacity >= 1, sequenceConfiguration.followersPerKey >= 1, sequenceConfiguration.lookback >= 1,
            sequenceConfiguration.window >= 0
        else {
            throw WarmingModelFileError.corrupt(path: path, reason: "configuration out of range")
        }
        var keys: [String: KeyPopularity] = [:]
        for (key, stored) in file.keys {
            var stats = KeyPopularity(url: stored.url, at: stored.firstSeen)
            stats.shortCount = stored.short
            stats.longCount = stored.long
            stats.updatedAt = stored.updatedAt
            stats.lastSeen = stored.lastSeen
            stats.total = stored.total
            stats.seasonAt = stored.seasonAt
            for (hour, mass) in stored.season {
                guard let index = Int(hour), stats.season.indices.contains(index), mass.isFinite, mass >= 0 else {
                    throw WarmingModelFileError.corrupt(path: path, reason: "key \(key): bad seasonal bucket \(hour)")
                }
                stats.season[index] = mass
            }
            guard stored.short.isFinite, stored.short >= 0, stored.long.isFinite, stored.long >= 0, stored.total >= 0,
                stored.firstSeen <= stored.lastSeen
            else {
                throw WarmingModelFileError.corrupt(path: path, reason: "key \(key): counts out of range")
            }
            keys[key] = stats
        }
        for (key, source) in file.sources
        where source.occurrences < 0 || source.followers.values.contains(where: { $0.error < 0 || $0.count < $0.error }) {
            throw WarmingModelFileError.corrupt(path: path, reason: "source \(key): count out of range")
        }
        return WarmingModel(
            popularity: PopularityModel(configuration: file.popularity, keys: keys),
            sequence: SequenceModel(configuration: file.sequence, sources: file.sources))
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.typeMismatch(_, let context),
            DecodingError.valueNotFound(_, let context), DecodingError.keyNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
