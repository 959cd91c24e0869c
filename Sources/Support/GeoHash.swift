// The geohash arithmetic behind the GEO commands, computed the way Redis 7.0's geohash.c and
// geohash_helper.c do so that scores, decoded positions, distances and the cells a search
// visits agree with Redis to the last bit: longitude and latitude are scaled into 26-bit
// cell numbers interleaved into a 52-bit integer (latitude in the even bits), a point
// decodes to its cell's centre, and distances use the haversine formula on a sphere of
// 6372797.560856 m. No I/O; the command layer lives in GeoFamily.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum GeoHash {
    public static let longitudeLimit = 180.0
    /// The latitude limit of the Web Mercator projection, as Redis stores points.
    public static let latitudeLimit = 85.05112878
    /// Bits per coordinate of a stored score (52 bits in all).
    public static let maxStep = 26
    static let earthRadius = 6372797.560856
    static let mercatorMax = 20037726.37
    static let degreesToRadians = Double.pi / 180.0

    /// A cell: `bits` interleaved coordinate bits of `step` bits per coordinate.
    public struct Cell: Equatable {
        public var bits: UInt64
        public var step: Int
        static let zero = Cell(bits: 0, step: 0)
        var isZero: Bool { bits == 0 && step == 0 }

        /// The first score of this cell and the first score after it at full precision.
        public var scoreRange: (min: Double, max: Double) {
            let shift = UInt64(52 - step * 2)
            return (Double(bits << shift), Double((bits + 1) << shift))
        }
    }

    /// The rectangle a cell covers.
    struct Area {
        var minLongitude, maxLongitude, minLatitude, maxLatitude: Double
    }

    /// Whether Redis accepts the point for GEOADD / a search centre.
    public static func isValid(longitude: Double, latitude: Double) -> Bool {
        !(longitude < -longitudeLimit || longitude > longitudeLimit || latitude < -latitudeLimit || latitude > latitudeLimit)
    }

    /// Spreads the 32 bits of `value` to the even bits of a 64-bit word.
    private static func spread(_ value: UInt32) -> UInt64 {
        var result: UInt64 = 0
        for bit in 0..<32 where value & (1 << UInt32(bit)) != 0 { result |= 1 << UInt64(bit * 2) }
        return result
    }

    /// Gathers the even bits of `word` into 32 bits.
    private static func gather(_ word: UInt64) -> UInt32 {
        var result: UInt32 = 0
        for bit in 0..<32 where word & (1 << UInt64(bit * 2)) != 0 { result |= 1 << UInt32(bit) }
        return result
    }

    /// Encodes a point at `step` bits per coordinate, latitude scaled over ±`latitudeRange`.
    static func encode(longitude: Double, latitude: Double, step: Int, latitudeRange: Double = latitudeLimit) -> Cell {
        let scale = Double(UInt64(1) << UInt64(step))
        let latitudeOffset = (latitude + latitudeRange) / (2 * latitudeRange) * scale
        let longitudeOffset = (longitude + longitudeLimit) / (2 * longitudeLimit) * scale
        return Cell(bits: spread(UInt32(latitudeOffset)) | spread(UInt32(longitudeOffset)) << 1, step: step)
    }

    static func decode(_ cell: Cell) -> Area {
        let latitudeCell = Double(gather(cell.bits)), longitudeCell = Double(gather(cell.bits >> 1))
        let scale = Double(UInt64(1) << UInt64(cell.step))
        return Area(minLongitude: -longitudeLimit + (longitudeCell / scale) * (2 * longitudeLimit),
                    maxLongitude: -longitudeLimit + ((longitudeCell + 1) / scale) * (2 * longitudeLimit),
                    minLatitude: -latitudeLimit + (latitudeCell / scale) * (2 * latitudeLimit),
                    maxLatitude: -latitudeLimit + ((latitudeCell + 1) / scale) * (2 * latitudeLimit))
    }

    /// The 52-bit score GEOADD stores for a point (validated by `isValid`).
    public static func score(longitude: Double, latitude: Double) -> Double {
        Double(encode(longitude: longitude, latitude: latitude, step: maxStep).bits)
    }

    /// The point a score stands for: the centre of its cell, clamped to the limits.
    public static func position(ofScore score: Double) -> (longitude: Double, latitude: Double) {
        let area = decode(Cell(bits: cellBits(ofScore: score), step: maxStep))
        let longitude = min(max((area.minLongitude + area.maxLongitude) / 2, -longitudeLimit), longitudeLimit)
        let latitude = min(max((area.minLatitude + area.maxLatitude) / 2, -latitudeLimit), latitudeLimit)
        return (longitude, latitude)
    }

    /// A score's cell bits as Redis's C cast to uint64_t yields them on x86-64, for the scores
    /// that are no geohash too (negative, huge, infinite: ZADD can store those in any set).
    static func cellBits(ofScore score: Double) -> UInt64 {
        let twoTo63 = 9_223_372_036_854_775_808.0
        /// cvttsd2si: truncation, or the "integer indefinite" 2^63 when out of range.
        func truncated(_ value: Double) -> UInt64 {
            guard value >= -twoTo63, value < twoTo63 else { return 1 << 63 }
            return UInt64(bitPattern: Int64(value))
        }
        return score < twoTo63 ? truncated(score) : truncated(score - twoTo63) ^ (1 << 63)
    }

    /// The 11-character base32 geohash GEOHASH replies (latitude over ±90, as the standard).
    public static func base32(ofScore score: Double) -> [UInt8] {
        let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)
        let (longitude, latitude) = position(ofScore: score)
        let bits = encode(longitude: longitude, latitude: latitude, step: maxStep, latitudeRange: 90).bits
        var text = [UInt8](repeating: alphabet[0], count: 11)
        for index in 0..<10 {
            let shift = UInt64(52 - (index + 1) * 5)
            text[index] = alphabet[Int((bits >> shift) & 0x1f)]
        }
        return text
    }

    // MARK: Distances

    static func latitudeDistance(_ latitude1: Double, _ latitude2: Double) -> Double {
        earthRadius * abs(latitude2 * degreesToRadians - latitude1 * degreesToRadians)
    }

    /// Haversine distance in metres.
    public static func distance(_ longitude1: Double, _ latitude1: Double, _ longitude2: Double, _ latitude2: Double) -> Double {
        let v = sin((longitude2 * degreesToRadians - longitude1 * degreesToRadians) / 2)
        if v == 0 { return latitudeDistance(latitude1, latitude2) }
        let latitude1Radians = latitude1 * degreesToRadians, latitude2Radians = latitude2 * degreesToRadians
        let u = sin((latitude2Radians - latitude1Radians) / 2)
        let a = u * u + cos(latitude1Radians) * cos(latitude2Radians) * v * v
        return 2.0 * earthRadius * asin(a.squareRoot())
    }

    // MARK: Search areas

    /// The region a search covers, sized in a unit of `metresPerUnit` metres (kept apart,
    /// as Redis multiplies at each use).
    public struct Shape {
        public enum Kind {
            case radius(Double)
            case box(width: Double, height: Double)
        }
        public var kind: Kind
        public var metresPerUnit: Double

        public init(_ kind: Kind, metresPerUnit: Double) {
            self.kind = kind
            self.metresPerUnit = metresPerUnit
        }
    }

    /// The distance in metres from the centre to a point when the point lies in `shape`.
    public static func distanceIfWithin(_ shape: Shape, centre: (Double, Double), point: (Double, Double)) -> Double? {
        switch shape.kind {
        case .radius(let radius):
            let distance = distance(centre.0, centre.1, point.0, point.1)
            return distance > radius * shape.metresPerUnit ? nil : distance
        case .box(let width, let height):
            if latitudeDistance(point.1, centre.1) > height * shape.metresPerUnit / 2 { return nil }
            if distance(point.0, point.1, centre.0, point.1) > width * shape.metresPerUnit / 2 { return nil }
            return distance(centre.0, centre.1, point.0, point.1)
        }
    }

    /// The precision whose cells are about as large as `radius` metres at `latitude`.
    static func estimatedStep(radius: Double, latitude: Double) -> Int {
        if radius == 0 { return maxStep }
        var range = radius, step = 1
        while range < mercatorMax {
            range *= 2
            step += 1
        }
        step -= 2
        if latitude > 66 || latitude < -66 {
            step -= 1
            if latitude > 80 || latitude < -80 { step -= 1 }
        }
        return min(max(step, 1), maxStep)
    }

    /// Moves a cell one column east (+1) or west (-1), or one row north/south with `rows`.
    private static func moved(_ cell: Cell, by direction: Int, rows: Bool) -> Cell {
        guard direction != 0 else { return cell }
        let oddBits: UInt64 = 0xaaaa_aaaa_aaaa_aaaa, evenBits: UInt64 = 0x5555_5555_5555_5555
        let (movingMask, keptMask) = rows ? (evenBits, oddBits) : (oddBits, evenBits)
        let shift = UInt64(64 - cell.step * 2)
        var moving = cell.bits & movingMask
        let kept = cell.bits & keptMask
        let filler = keptMask >> shift
        if direction > 0 {
            moving = moving &+ (filler &+ 1)
        } else {
            moving = (moving | filler) &- (filler &+ 1)
        }
        moving &= movingMask >> shift
        return Cell(bits: moving | kept, step: cell.step)
    }

    /// The cells a search scans, in Redis's order: the centre's cell, then north, south, east,
    /// west, north-east, north-west, south-east and south-west; zero cells are skipped.
    public static func searchCells(_ shape: Shape, longitude: Double, latitude: Double) -> [Cell] {
        let metres = shape.metresPerUnit
        let (halfWidth, halfHeight, radius): (Double, Double, Double)
        switch shape.kind {
        case .radius(let r): (halfWidth, halfHeight, radius) = (metres * r, metres * r, r * metres)
        case .box(let width, let height):
            (halfWidth, halfHeight) = (metres * (width / 2), metres * (height / 2))
            radius = ((width / 2) * (width / 2) + (height / 2) * (height / 2)).squareRoot() * metres
        }
        let latitudeDelta = halfHeight / earthRadius / degreesToRadians
        let longitudeDeltaTop = halfWidth / earthRadius / cos((latitude + latitudeDelta) * degreesToRadians) / degreesToRadians
        let longitudeDeltaBottom = halfWidth / earthRadius / cos((latitude - latitudeDelta) * degreesToRadians) / degreesToRadians
        let longitudeDelta = latitude < 0 ? longitudeDeltaBottom : longitudeDeltaTop
        let bounds = Area(minLongitude: longitude - longitudeDelta, maxLongitude: longitude + longitudeDelta,
                          minLatitude: latitude - latitudeDelta, maxLatitude: latitude + latitudeDelta)

        var step = estimatedStep(radius: radius, latitude: latitude)
        var centre = encode(longitude: longitude, latitude: latitude, step: step)
        var neighbours = neighbourCells(of: centre)
        let coversBounds = decode(neighbours.north).maxLatitude >= bounds.maxLatitude
            && decode(neighbours.south).minLatitude <= bounds.minLatitude
            && decode(neighbours.east).maxLongitude >= bounds.maxLongitude
            && decode(neighbours.west).minLongitude <= bounds.minLongitude
        if step > 1 && !coversBounds {
            step -= 1
            centre = encode(longitude: longitude, latitude: latitude, step: step)
            neighbours = neighbourCells(of: centre)
        }
        var cells = [centre, neighbours.north, neighbours.south, neighbours.east, neighbours.west,
                     neighbours.northEast, neighbours.northWest, neighbours.southEast, neighbours.southWest]
        if step >= 2 {
            // Neighbours beyond the bounding box cannot hold matches.
            let area = decode(centre)
            let (north, south, east, west) = ([1, 5, 6], [2, 7, 8], [3, 5, 7], [4, 6, 8])
            var dropped: [Int] = []
            if area.minLatitude < bounds.minLatitude { dropped += south }
            if area.maxLatitude > bounds.maxLatitude { dropped += north }
            if area.minLongitude < bounds.minLongitude { dropped += west }
            if area.maxLongitude > bounds.maxLongitude { dropped += east }
            for index in dropped { cells[index] = .zero }
        }
        // Like Redis, a cell equal to the last one scanned (other than the centre) is skipped.
        var scanned: [Cell] = []
        var lastScanned: Int? = nil
        for (index, cell) in cells.enumerated() where !cell.isZero {
            if let last = lastScanned, last != 0, cells[last] == cell { continue }
            scanned.append(cell)
            lastScanned = index
        }
        return scanned
    }

    private static func neighbourCells(of cell: Cell)
        -> (north: Cell, south: Cell, east: Cell, west: Cell, northEast: Cell, northWest: Cell, southEast: Cell, southWest: Cell) {
        func at(_ columns: Int, _ rows: Int) -> Cell { moved(moved(cell, by: columns, rows: false), by: rows, rows: true) }
        return (at(0, 1), at(0, -1), at(1, 0), at(-1, 0), at(1, 1), at(-1, 1), at(1, -1), at(-1, -1))
    }
}
