import Foundation
import Parallel

#if canImport(Glibc)
import Glibc
#endif

/// A directory's manifest digest together with the `lstat` facts of every entry it was computed from, kept in
/// `.cache/tree-cache/`, so that an unchanged directory is answered the way git answers from its index: one
/// `fstatat` per entry compared with the recorded facts, no file read, no manifest rebuilt, no allocation per file.
///
/// Entries are kept per folder in the order `readdir` returned them, an order a folder keeps while nothing is added
/// to it or removed from it: the check reads each folder and compares its i-th name with the i-th recorded one.
/// Any difference (a name, a kind, an inode, size, mtime, ctime or mode) sends the directory to `build`, which keeps
/// the digests of the entries whose facts still match and reads only the others. A directory's own mtime is never
/// trusted: editing a file in place does not change it.
///
/// As in the stat cache, an entry recorded less than `StatCache.racyWindowNanoseconds` after its file last changed
/// is not trusted (the file may have been rewritten within one timestamp tick after it was read): the directory is
/// rebuilt and that file read again, until its entry is old enough.
struct DirectorySnapshot {
    enum Kind: UInt8 {
        case file = 0
        case symlink = 1
        case directory = 2
    }

    /// One name in a folder: what `lstat` said of it, and for a file or link the digest and size the manifest
    /// records (a link's are those of its target text).
    struct Entry {
        var kind: Kind
        var permissions: UInt16
        var inode: UInt64
        var statSize: Int64
        var mtime: Int64
        var ctime: Int64
        /// When the digest was taken, before the bytes were read; 0 while it has none.
        var recordedAt: Int64
        var digest: RawDigest
        var contentSize: Int64
        /// The name's bytes in `names`.
        var nameStart: Int
        var nameLength: Int

        static let byteCount = 96

        /// The facts as a `FileStat` (a file's).
        var fileStat: FileStat {
            FileStat(kind: .file, inode: inode, size: statSize, mtime: mtime, ctime: ctime, permissions: permissions)
        }

        /// Whether `info` shows the same entry, unchanged since it was recorded, and recorded long enough after
        /// its last change to be trusted.
        func isUnchanged(_ info: Glibc.stat) -> Bool {
            guard DirectorySnapshot.kind(info) == kind else { return false }
            guard kind != .directory else { return true }
            let facts = FileStat(info)
            return facts.inode == inode && facts.size == statSize && facts.mtimeNanoseconds == mtime
                && facts.ctimeNanoseconds == ctime && facts.permissions == permissions
                && recordedAt - max(mtime, ctime) >= StatCache.racyWindowNanoseconds
        }
    }

    /// A folder of the tree: its path below the directory ("" for the directory itself) and its entries.
    struct Folder {
        var path: String
        var entries: Range<Int>
    }

    var digest: Digest
    var size: Int64
    var fileCount: Int
    var folders: [Folder]
    var entries: [Entry]
    var names: [UInt8]

    static func kind(_ info: Glibc.stat) -> Kind? {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        default: return nil
        }
    }

    func name(_ entry: Entry) -> String {
        String(decoding: names[entry.nameStart..<(entry.nameStart + entry.nameLength)], as: UTF8.self)
    }

    static func join(_ folder: String, _ name: String) -> String { folder.isEmpty ? name : folder + "/" + name }

    // MARK: Checking

    /// The paths of the folders that still hold exactly the recorded entries with the recorded facts, none racy;
    /// all of them when the tree is unchanged. Folders are checked in parallel.
    func unchangedFolders(at absolute: String) -> Set<String> {
        let current = parallelMap(count: folders.count) { index in
            folderIsCurrent(folders[index], at: absolute)
        }
        return Set(folders.indices.filter { current[$0] }.map { folders[$0].path })
    }

    private func folderIsCurrent(_ folder: Folder, at absolute: String) -> Bool {
        let path = folder.path.isEmpty ? absolute : absolute + "/" + folder.path
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        guard let stream = fdopendir(fd) else {
            close(fd)
            return false
        }
        defer { closedir(stream) }
        var position = folder.entries.lowerBound
        var info = Glibc.stat()
        return names.withUnsafeBufferPointer { names in
            while let record = readdir(stream) {
                let same = withUnsafePointer(to: &record.pointee.d_name) { pointer -> Bool? in
                    pointer.withMemoryRebound(to: CChar.self, capacity: 256) { name -> Bool? in
                        if isDotOrDotDot(name) { return nil }
                        guard position < folder.entries.upperBound else { return false }
                        let entry = entries[position]
                        guard strlen(name) == entry.nameLength, let base = names.baseAddress,
                            memcmp(name, base + entry.nameStart, entry.nameLength) == 0,
                            fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0
                        else { return false }
                        return entry.isUnchanged(info)
                    }
                }
                switch same {
                case nil: continue
                case false?: return false
                case true?: position += 1
                }
            }
            return position == folder.entries.upperBound
        }
    }

    // MARK: Building

    /// The snapshot of the workspace-relative `directory` as it is now. The folders of `previous` named in
    /// `unchanged` (just checked) are taken as they are, the others listed again; an entry whose facts match its
    /// entry in `previous` keeps that digest; the others get theirs from `known` (a digest this process or the stat cache
    /// trusts, with the time it was taken) or from reading the file, which `read` does for all of them at once.
    static func build(
        directory: String, root: URL, previous: DirectorySnapshot?, unchanged: Set<String>,
        linkTarget: (String) throws -> String,
        known: (String, FileStat) -> (digest: Digest, recordedAt: Int64)?,
        read: ([(path: String, stat: FileStat)]) throws -> [(digest: Digest, recordedAt: Int64)]
    ) throws -> DirectorySnapshot {
        var snapshot = try list(
            directory: directory, absolute: root.appendingPathComponent(directory).path, previous: previous,
            unchanged: unchanged)
        snapshot.reuseDigests(from: previous)
        var toRead: [(index: Int, path: String, size: Int64)] = []
        for folder in snapshot.folders {
            for index in folder.entries where snapshot.entries[index].recordedAt == 0 {
                let entry = snapshot.entries[index]
                guard entry.kind != .directory else { continue }
                let path = join(directory, join(folder.path, snapshot.name(entry)))
                if entry.kind == .symlink {
                    let recordedAt = nowNanoseconds()
                    let bytes = Data(try linkTarget(path).utf8)
                    snapshot.entries[index].digest = RawDigest(Digest.of(bytes))
                    snapshot.entries[index].contentSize = Int64(bytes.count)
                    snapshot.entries[index].recordedAt = recordedAt
                } else if let answer = known(path, entry.fileStat) {
                    snapshot.entries[index].digest = RawDigest(answer.digest)
                    snapshot.entries[index].contentSize = entry.statSize
                    snapshot.entries[index].recordedAt = answer.recordedAt
                } else {
                    toRead.append((index, path, entry.statSize))
                }
            }
        }
        let hashes = try read(toRead.map { ($0.path, snapshot.entries[$0.index].fileStat) })
        for (item, hash) in zip(toRead, hashes) {
            snapshot.entries[item.index].digest = RawDigest(hash.digest)
            snapshot.entries[item.index].contentSize = item.size
            snapshot.entries[item.index].recordedAt = hash.recordedAt
        }
        let manifest = snapshot.manifestBytes()
        snapshot.digest = manifest.withUnsafeBytes { bytes in
            let hasher = SHA256Hasher()
            hasher.update(bytes)
            return hasher.finish()
        }
        return snapshot
    }

    /// Every entry under `directory`, folder by folder (each folder's in `readdir` order), without digests but for
    /// the folders taken from `previous`.
    private static func list(
        directory: String, absolute: String, previous: DirectorySnapshot?, unchanged: Set<String>
    ) throws -> DirectorySnapshot {
        var previousFolders: [String: Folder] = [:]
        for folder in previous?.folders ?? [] where unchanged.contains(folder.path) {
            previousFolders[folder.path] = folder
        }
        var snapshot = DirectorySnapshot(
            digest: Digest.of(Data()), size: 0, fileCount: 0, folders: [], entries: [], names: [])
        var wave = [""]
        while !wave.isEmpty {
            let listed = try parallelMap(count: wave.count) { index in
                if let previous, let folder = previousFolders[wave[index]] { return previous.copy(of: folder) }
                return try listFolder(wave[index], directory: directory, absolute: absolute)
            }
            var next: [String] = []
            for (path, folder) in zip(wave, listed) {
                let first = snapshot.entries.count
                let nameBase = snapshot.names.count
                snapshot.names += folder.names
                for var entry in folder.entries {
                    entry.nameStart += nameBase
                    snapshot.entries.append(entry)
                    if entry.kind == .directory {
                        next.append(join(path, snapshot.name(entry)))
                    } else {
                        snapshot.size += entry.kind == .file ? entry.statSize : 0
                        snapshot.fileCount += 1
                    }
                }
                snapshot.folders.append(Folder(path: path, entries: first..<snapshot.entries.count))
            }
            wave = next
        }
        return snapshot
    }

    private static func listFolder(_ folder: String, directory: String, absolute: String) throws
        -> (entries: [Entry], names: [UInt8])
    {
        let display = folder.isEmpty ? directory : join(directory, folder)
        let fd = open(folder.isEmpty ? absolute : absolute + "/" + folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            let reason = errnoText()
            if fd >= 0 { close(fd) }
            throw ContentStoreError.cannotRead(path: display, reason: reason)
        }
        defer { closedir(stream) }
        var entries: [Entry] = []
        var names: [UInt8] = []
        var info = Glibc.stat()
        while let record = readdir(stream) {
            let found = try withUnsafePointer(to: &record.pointee.d_name) { pointer -> Entry? in
                try pointer.withMemoryRebound(to: CChar.self, capacity: 256) { name -> Entry? in
                    if isDotOrDotDot(name) { return nil }
                    let length = strlen(name)
                    let bytes = UnsafeRawBufferPointer(start: name, count: length)
                    guard !bytes.contains(UInt8(ascii: "\n")) else {
                        throw ContentStoreError.unsupportedName(
                            path: display + "/" + String(decoding: bytes, as: UTF8.self))
                    }
                    guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }  // gone meanwhile
                    guard let kind = kind(info) else {
                        throw ContentStoreError.unsupportedFileType(
                            path: display + "/" + String(decoding: bytes, as: UTF8.self))
                    }
                    let facts = FileStat(info)
                    let entry = Entry(
                        kind: kind, permissions: facts.permissions, inode: facts.inode, statSize: facts.size,
                        mtime: facts.mtimeNanoseconds, ctime: facts.ctimeNanoseconds, recordedAt: 0,
                        digest: RawDigest(), contentSize: 0,
                        nameStart: names.count, nameLength: length)
                    names.append(contentsOf: bytes)
                    return entry
                }
            }
            if let found { entries.append(found) }
        }
        return (entries, names)
    }

    /// The entries of one of this snapshot's folders, their names in a buffer of their own.
    private func copy(of folder: Folder) -> (entries: [Entry], names: [UInt8]) {
        var copied = Array(entries[folder.entries])
        guard let start = copied.map(\.nameStart).min() else { return ([], []) }
        let end = copied.map { $0.nameStart + $0.nameLength }.max() ?? start
        for index in copied.indices { copied[index].nameStart -= start }
        return (copied, Array(names[start..<end]))
    }

    /// Copies the digest of every entry whose facts are unchanged since `previous` recorded it (and not racy).
    /// A folder whose names kept their order is matched position by position; the others by name.
    private mutating func reuseDigests(from previous: DirectorySnapshot?) {
        guard let previous else { return }
        var previousFolders: [String: Int] = [:]
        for (index, folder) in previous.folders.enumerated() { previousFolders[folder.path] = index }
        for folder in folders {
            guard let old = previousFolders[folder.path].map({ previous.folders[$0].entries }) else { continue }
            var byName: [String: Int]?
            for index in folder.entries {
                let entry = entries[index]
                guard entry.kind != .directory else { continue }
                let position = old.lowerBound + (index - folder.entries.lowerBound)
                var match: Int?
                if old.contains(position), previous.nameBytes(previous.entries[position]) == nameBytes(entry) {
                    match = position
                } else {
                    if byName == nil {
                        byName = Dictionary(
                            old.map { (previous.name(previous.entries[$0]), $0) }, uniquingKeysWith: { a, _ in a })
                    }
                    match = byName?[name(entry)]
                }
                guard let match else { continue }
                let recorded = previous.entries[match]
                guard recorded.kind == entry.kind, recorded.inode == entry.inode, recorded.statSize == entry.statSize,
                    recorded.mtime == entry.mtime, recorded.ctime == entry.ctime,
                    recorded.permissions == entry.permissions,
                    recorded.recordedAt - max(recorded.mtime, recorded.ctime) >= StatCache.racyWindowNanoseconds
                else { continue }
                entries[index].digest = recorded.digest
                entries[index].contentSize = recorded.contentSize
                entries[index].recordedAt = recorded.recordedAt
            }
        }
    }

    private func nameBytes(_ entry: Entry) -> ArraySlice<UInt8> {
        names[entry.nameStart..<(entry.nameStart + entry.nameLength)]
    }

    // MARK: The manifest

    /// Calls `body` with every file and link of the tree in the manifest's order (paths compared as bytes), with
    /// its path below the directory as bytes.
    func forEachManifestEntry(_ body: (_ path: [UInt8], _ entry: Entry) -> Void) {
        var folderIndex: [String: Int] = [:]
        for (index, folder) in folders.enumerated() { folderIndex[folder.path] = index }
        // A folder's names sorted with a '/' after each subfolder's give sorted full paths: no name holds a '/'.
        func visit(_ folder: Folder, prefix: [UInt8]) {
            let sorted = folder.entries.sorted { precedes(entries[$0], entries[$1]) }
            for index in sorted {
                let entry = entries[index]
                let path = prefix + nameBytes(entry)
                if entry.kind == .directory {
                    guard let child = folderIndex[Self.join(folder.path, name(entry))] else { continue }
                    visit(folders[child], prefix: path + [UInt8(ascii: "/")])
                } else {
                    body(path, entry)
                }
            }
        }
        if let top = folders.first { visit(top, prefix: []) }
    }

    /// Whether `a`'s name sorts before `b`'s, a subfolder's name compared as if it ended in '/'.
    private func precedes(_ a: Entry, _ b: Entry) -> Bool {
        let slash = UInt8(ascii: "/")
        let aLength = a.nameLength + (a.kind == .directory ? 1 : 0)
        let bLength = b.nameLength + (b.kind == .directory ? 1 : 0)
        for offset in 0..<min(aLength, bLength) {
            let x = offset < a.nameLength ? names[a.nameStart + offset] : slash
            let y = offset < b.nameLength ? names[b.nameStart + offset] : slash
            if x != y { return x < y }
        }
        return aLength < bLength
    }

    /// `DirectoryManifest.bytes` of the tree, written straight from the entries.
    func manifestBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.count * 96)
        let hex = Array("0123456789abcdef".utf8)
        forEachManifestEntry { path, entry in
            if entry.kind == .symlink {
                out += Array("120000 ".utf8)
            } else {
                let permissions = ManifestEntry.recordedPermissions(entry.permissions)
                if permissions != ManifestEntry.defaultPermissions {
                    out += Array(("100" + String(permissions, radix: 8) + " ").utf8)
                }
            }
            entry.digest.forEachByte { byte in
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
            out.append(UInt8(ascii: " "))
            out += Array(String(entry.contentSize).utf8)
            out.append(UInt8(ascii: " "))
            out += path
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The tree as a `DirectoryManifest`.
    func manifest() -> DirectoryManifest {
        var result: [ManifestEntry] = []
        result.reserveCapacity(fileCount)
        forEachManifestEntry { path, entry in
            let kind: ManifestEntry.Kind =
                entry.kind == .symlink
                ? .symlink : .file(permissions: ManifestEntry.recordedPermissions(entry.permissions))
            result.append(
                ManifestEntry(
                    relativePath: String(decoding: path, as: UTF8.self), digest: entry.digest.digest,
                    size: entry.contentSize, kind: kind))
        }
        return DirectoryManifest(sortedEntries: result)
    }

    // MARK: The file

    static let header = Array("pipe-tree-cache 1\n".utf8)

    /// The snapshot as bytes: header, digest, size, counts, folders, fixed-size entries, names. Little-endian.
    func encoded() -> [UInt8] {
        var out = Self.header
        out.reserveCapacity(Self.header.count + 64 + folders.count * 64 + entries.count * Entry.byteCount + names.count)
        out += RawDigest(digest).bytes
        append(&out, size)
        append(&out, Int64(fileCount))
        append(&out, UInt32(folders.count))
        append(&out, UInt32(entries.count))
        append(&out, UInt32(names.count))
        for folder in folders {
            let path = Array(folder.path.utf8)
            append(&out, UInt32(path.count))
            out += path
            append(&out, UInt32(folder.entries.lowerBound))
            append(&out, UInt32(folder.entries.count))
        }
        for entry in entries {
            append(&out, entry.inode)
            append(&out, entry.statSize)
            append(&out, entry.mtime)
            append(&out, entry.ctime)
            append(&out, entry.recordedAt)
            append(&out, entry.contentSize)
            out += entry.digest.bytes
            append(&out, UInt32(entry.nameStart))
            append(&out, UInt16(entry.nameLength))
            append(&out, entry.permissions)
            out.append(entry.kind.rawValue)
            out += [0, 0, 0, 0, 0, 0, 0]
        }
        out += names
        return out
    }

    private func append<Value: FixedWidthInteger>(_ out: inout [UInt8], _ value: Value) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    /// The snapshot in `data`, or nil when it is not a well-formed one (the file is only an accelerator).
    static func decode(_ data: Data) -> DirectorySnapshot? {
        data.withUnsafeBytes { bytes -> DirectorySnapshot? in
            var reader = ByteReader(bytes: bytes)
            guard reader.take(header.count).map(Array.init) == header, let digest = reader.digest(),
                let size: Int64 = reader.integer(), let fileCount: Int64 = reader.integer(),
                let folderCount: UInt32 = reader.integer(), let entryCount: UInt32 = reader.integer(),
                let namesLength: UInt32 = reader.integer()
            else { return nil }
            var folders: [Folder] = []
            for _ in 0..<folderCount {
                guard let length: UInt32 = reader.integer(), let path = reader.take(Int(length)),
                    let first: UInt32 = reader.integer(), let count: UInt32 = reader.integer(),
                    Int(first) + Int(count) <= Int(entryCount)
                else { return nil }
                folders.append(
                    Folder(
                        path: String(decoding: path, as: UTF8.self), entries: Int(first)..<(Int(first) + Int(count))))
            }
            var entries: [Entry] = []
            entries.reserveCapacity(Int(entryCount))
            for _ in 0..<entryCount {
                guard let inode: UInt64 = reader.integer(), let statSize: Int64 = reader.integer(),
                    let mtime: Int64 = reader.integer(), let ctime: Int64 = reader.integer(),
                    let recordedAt: Int64 = reader.integer(), let contentSize: Int64 = reader.integer(),
                    let entryDigest = reader.rawDigest(), let nameStart: UInt32 = reader.integer(),
                    let nameLength: UInt16 = reader.integer(), let permissions: UInt16 = reader.integer(),
                    let kindByte: UInt8 = reader.integer(), let kind = Kind(rawValue: kindByte),
                    reader.take(7) != nil, Int(nameStart) + Int(nameLength) <= Int(namesLength)
                else { return nil }
                entries.append(
                    Entry(
                        kind: kind, permissions: permissions, inode: inode, statSize: statSize, mtime: mtime,
                        ctime: ctime, recordedAt: recordedAt, digest: entryDigest, contentSize: contentSize,
                        nameStart: Int(nameStart), nameLength: Int(nameLength)))
            }
            guard let names = reader.take(Int(namesLength)), reader.isAtEnd else { return nil }
            return DirectorySnapshot(
                digest: digest, size: size, fileCount: Int(fileCount), folders: folders, entries: entries,
                names: Array(names))
        }
    }
}

private func isDotOrDotDot(_ name: UnsafePointer<CChar>) -> Bool {
    name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0))
}

/// A SHA-256 digest as its 32 bytes, for records where a hex `String` per entry would cost an allocation each.
struct RawDigest {
    var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init() {}

    init(_ digest: Digest) {
        var bytes = [UInt8](repeating: 0, count: 32)
        var index = 0
        var high: UInt8 = 0
        for (position, character) in digest.hex.utf8.enumerated() {
            let value = character <= 57 ? character - 48 : character - 87
            if position % 2 == 0 {
                high = value
            } else {
                bytes[index] = high << 4 | value
                index += 1
            }
        }
        self.init(bytes: bytes[...])
    }

    init(bytes: ArraySlice<UInt8>) {
        withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: bytes.prefix(32)) }
    }

    var bytes: [UInt8] { withUnsafeBytes(of: words) { Array($0) } }

    func forEachByte(_ body: (UInt8) -> Void) {
        withUnsafeBytes(of: words) { for byte in $0 { body(byte) } }
    }

    var digest: Digest { withUnsafeBytes(of: words) { Digest(bytes: $0.assumingMemoryBound(to: UInt8.self)) } }
}

/// Reads little-endian fields from a byte buffer, answering nil past its end.
private struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func integer<Value: FixedWidthInteger>() -> Value? {
        guard let field = take(MemoryLayout<Value>.size) else { return nil }
        return Value(littleEndian: field.loadUnaligned(as: Value.self))
    }

    mutating func rawDigest() -> RawDigest? { take(32).map { RawDigest(bytes: Array($0)[...]) } }

    mutating func digest() -> Digest? { rawDigest()?.digest }
}
