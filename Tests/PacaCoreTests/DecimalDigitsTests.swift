import PacaCore
import Testing

@Suite("DecimalDigits")
struct DecimalDigitsTests {
    @Test("every length, each side of every power of ten and the largest value are written as Swift writes them")
    func asSwiftWritesThem() {
        var values: [UInt64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65_535, .max, .max - 1]
        var power: UInt64 = 1
        for _ in 1...19 {
            power *= 10
            values += [power - 1, power, power + 1, power - power / 3]
        }
        for value in values {
            let bytes = [UInt8](unsafeUninitializedCapacity: 20) { buffer, count in
                count = DecimalDigits.write(value, to: buffer.baseAddress!)
            }
            #expect(String(decoding: bytes, as: UTF8.self) == String(value), "\(value)")
            #expect(DecimalDigits.count(value) == String(value).count, "\(value)")
        }
    }
}
