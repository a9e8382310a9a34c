// The files that make up one SQLite database on disk (main file, -wal, -shm, the wasm engine's
// .lock directory) and the two things done to them as a set: fsync their directory, and move a
// corrupt database aside with its WAL so nothing the user wrote is ever deleted.
import * as fs from "node:fs"
import * as path from "node:path"
import { databaseEntries, secureEntriesSync, type Tightened } from "../home/HomeFiles.js"
import { openNoFollow } from "../home/SafeOpen.js"

export interface DatabaseFiles {
  readonly main: string
  readonly wal: string
  readonly shm: string
  /** node-sqlite3-wasm's VFS lock: a directory that a killed process leaves behind. */
  readonly lockDir: string
}

export const databaseFiles = (file: string): DatabaseFiles => ({
  main: file,
  wal: `${file}-wal`,
  shm: `${file}-shm`,
  lockDir: `${file}.lock`
})

/** By lstat: a dangling link counts as present (a rename onto it would silently replace it). */
const exists = (file: string): boolean => {
  try {
    fs.lstatSync(file)
    return true
  } catch {
    return false
  }
}

/**
 * Checked before either engine opens the database (both open by path and would follow a link):
 * the main file, -wal, -shm, -journal, the delivery log and the wasm `.lock` directory must each be
 * absent or a real file (directory) owned by us. Throws the reasons, one line each, naming the
 * files; otherwise takes group/other bits off them and returns what it changed.
 */
export const guardDatabaseFiles = (file: string): ReadonlyArray<Tightened> => {
  const result = secureEntriesSync(databaseEntries(file))
  if (result.refused.length > 0) throw new UnsafeDatabaseFiles(result.refused.map((f) => f.message).join("; "))
  return result.tightened
}

export class UnsafeDatabaseFiles extends Error {
  readonly _tag = "UnsafeDatabaseFiles"
}

/** Makes renames and creations in `dir` durable (the wasm VFS never fsyncs a directory). */
export const syncDirectory = (dir: string): void => {
  const fd = fs.openSync(dir, "r")
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** ISO 8601 basic format (no colons, so the name is safe for tar, scp and every filesystem). */
export const compactTimestamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, "")

export interface MovedAside {
  /** Where the main file went: `<file>.corrupt-<timestamp>`. */
  readonly movedTo: string
  /** Every file moved, -wal and -shm included, keeping SQLite's naming so the copy opens as a whole. */
  readonly files: ReadonlyArray<string>
}

/**
 * Renames the database and its WAL/shm to `<file>.corrupt-<timestamp>[-wal|-shm]` and fsyncs the
 * directory. The stale wasm lock directory is removed: it holds no data and would block the copy.
 */
export const moveAside = (file: string, nowMs: number): MovedAside => {
  const files = databaseFiles(file)
  let target = `${file}.corrupt-${compactTimestamp(nowMs)}`
  for (let n = 2; exists(target); n++) target = `${file}.corrupt-${compactTimestamp(nowMs)}-${n}`
  const moved: Array<string> = []
  for (const [from, to] of [[files.main, target], [files.wal, `${target}-wal`], [files.shm, `${target}-shm`]] as const) {
    if (!exists(from)) continue
    fs.renameSync(from, to)
    moved.push(to)
  }
  fs.rmSync(files.lockDir, { recursive: true, force: true })
  syncDirectory(path.dirname(file))
  return { movedTo: target, files: moved }
}

/**
 * Returns a hook to call after every successful statement: it fsyncs the database's directory once,
 * after the first commit (an explicit COMMIT, or a write outside a transaction) that finds the WAL
 * on disk, so the directory entries of a new main file and of the WAL are durable before anyone is
 * told a write is. (In exclusive mode the WAL is deleted at close and created anew by the first
 * write of the next open; a no-op write such as CREATE TABLE IF NOT EXISTS may not create it.)
 */
export const directorySyncAfterFirstCommit = (file: string): (sql: string) => void => {
  const { wal } = databaseFiles(file)
  let synced = false
  let inTransaction = false
  return (sql) => {
    if (synced) return
    const verb = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase()
    if (verb === "BEGIN" || verb === "SAVEPOINT") {
      inTransaction = true
      return
    }
    if (verb === "ROLLBACK") {
      if (!/^\s*ROLLBACK\s+TO\b/i.test(sql)) inTransaction = false
      return
    }
    const commit = verb === "COMMIT" || verb === "END" ||
      (!inTransaction && (verb === "INSERT" || verb === "UPDATE" || verb === "DELETE" || verb === "CREATE" || verb === "REPLACE"))
    if (verb === "COMMIT" || verb === "END") inTransaction = false
    if (!commit || !fs.existsSync(wal)) return
    syncDirectory(path.dirname(file))
    synced = true
  }
}

const sqliteMagic = Buffer.from("SQLite format 3\0", "latin1")

/**
 * Checked before SQLite sees the file: opened on a file without a SQLite header, both engines fail
 * with "file is not a database" and then delete the -wal beside it on close, which may hold the
 * newest committed transactions. An empty file is a new database.
 */
export const headerProblem = (file: string): string | undefined => {
  let fd: number
  try {
    fd = openNoFollow(file, fs.constants.O_RDONLY)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
  try {
    const size = fs.fstatSync(fd).size
    if (size === 0) return undefined
    const header = Buffer.alloc(sqliteMagic.length)
    const read = fs.readSync(fd, header, 0, header.length, 0)
    return read === header.length && header.equals(sqliteMagic)
      ? undefined
      : `file is not a database (no SQLite header in the first ${header.length} bytes of ${size})`
  } finally {
    fs.closeSync(fd)
  }
}
