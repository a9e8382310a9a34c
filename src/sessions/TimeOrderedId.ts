// Session and turn ids as UUID version 7 (RFC 9562): the creation time in milliseconds in the first
// 48 bits, then 74 random bits. Every index keyed by an id (the tables' primary keys, messages by
// session and by turn, turns by session) then grows at its right edge instead of at a random leaf,
// so the turns that share a group commit share the pages they write: a version-4 id touched a leaf
// of its own in each of those indexes, and SQLite wrote every one of them to the WAL (about 8 pages
// per HTTP turn under load, 5 with these ids; BENCHMARKS.md). PostgreSQL's B-tree indexes have the
// same right-edge locality with them (not measured here).
//
// The ids stay unguessable: 74 random bits, more than an online guesser could ever try even knowing
// the millisecond (an id is a capability: X-Hermes-Session continues that session). What an id
// discloses is the moment its session or turn began, which its holder can read from the session anyway.
import { randomFillSync } from "node:crypto"

const hex = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

// Random bytes drawn in blocks: one system call per 512 ids rather than one per id.
const poolIds = 512
const pool = Buffer.alloc(10 * poolIds)
let poolNext = poolIds

const randomTen = (): number => {
  if (poolNext === poolIds) {
    randomFillSync(pool)
    poolNext = 0
  }
  return 10 * poolNext++
}

/** A version-7 UUID for `nowMs` (the wall clock's milliseconds since the epoch), lowercase. */
export const timeOrderedId = (nowMs: number = Date.now()): string => {
  const at = randomTen()
  const ms = Number.isFinite(nowMs) ? Math.max(0, Math.min(Math.floor(nowMs), 2 ** 48 - 1)) : 0
  const high = Math.floor(ms / 2 ** 16)
  const b = (i: number): string => hex[pool[at + i]!]!
  return (
    (high >>> 0).toString(16).padStart(8, "0") + "-" +
    (ms & 0xffff).toString(16).padStart(4, "0") + "-" +
    // version 7 in the high nibble, 12 random bits
    hex[0x70 | (pool[at]! & 0x0f)]! + b(1) + "-" +
    // variant 10 in the two high bits, 14 random bits
    hex[0x80 | (pool[at + 2]! & 0x3f)]! + b(3) + "-" +
    b(4) + b(5) + b(6) + b(7) + b(8) + b(9)
  )
}

