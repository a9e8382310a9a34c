// Is a file's flock(2) held right now, asked without taking it (Linux: /proc/locks)? Read-only, so
// a status or stop never makes a starting gateway find the lock busy.
// A listed lock is held for certain. An unlisted one is free only when the reader sees every lock:
// /proc/locks hides locks whose owner pid is not visible in the reader's pid namespace, and our
// lock's recorded owner is the one-shot helper that took it (long gone), so inside a container
// /proc/locks may not list a held lock. Callers therefore treat "not listed" as a hint, never as
// proof that no gateway runs.
import * as fs from "node:fs"

export interface ProcLockEntry {
  readonly kind: string
  readonly access: string
  readonly major: number
  readonly minor: number
  readonly inode: number
}

/**
 * Parses /proc/locks: `1: FLOCK  ADVISORY  WRITE 1234 fe:01:2147203 0 EOF`. Waiters (`1: -> FLOCK ...`)
 * are not holders and are skipped, as are lines that do not parse. Device numbers are hex.
 */
export const parseProcLocks = (text: string): ReadonlyArray<ProcLockEntry> =>
  text.split("\n").flatMap((line) => {
    const match = /^\d+:\s+(\S+)\s+(\S+)\s+(\S+)\s+-?\d+\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i.exec(line)
    if (match === null) return []
    return [{
      kind: match[1]!,
      access: match[3]!,
      major: parseInt(match[4]!, 16),
      minor: parseInt(match[5]!, 16),
      inode: Number(match[6])
    }]
  })

/** major/minor of a Linux dev_t as stat(2) returns it (glibc's gnu_dev_major/minor). */
export const splitDevice = (dev: number | bigint): { readonly major: number; readonly minor: number } => {
  const d = BigInt(dev)
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn)
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn)
  return { major: Number(major), minor: Number(minor) }
}

/** Pure: whether an flock on the file with this dev/inode is among the entries. */
export const flockListed = (entries: ReadonlyArray<ProcLockEntry>, dev: number | bigint, inode: number | bigint): boolean => {
  const { major, minor } = splitDevice(dev)
  return entries.some((e) => e.kind === "FLOCK" && e.major === major && e.minor === minor && BigInt(e.inode) === BigInt(inode))
}

export type LockListing = "listed" | "not_listed" | "unknown"

/** Whether /proc/locks lists an flock on `file`; "unknown" where there is no /proc/locks or no such file. */
export const flockListing = (file: string): LockListing => {
  let stat: fs.BigIntStats
  let text: string
  try {
    stat = fs.statSync(file, { bigint: true })
    text = fs.readFileSync("/proc/locks", "utf8")
  } catch {
    return "unknown"
  }
  return flockListed(parseProcLocks(text), stat.dev, stat.ino) ? "listed" : "not_listed"
}
