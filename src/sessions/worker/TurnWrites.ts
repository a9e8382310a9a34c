// The four writes every turn makes (begin, complete, fail, interrupt), as plain synchronous code
// over the SessionDB worker's SQLite driver. They run the same statements, in the same order and
// with the same checks, as TurnJournal.ts, which stays the journal for PostgreSQL, for the
// in-process SQLite store and for every other call. Measured on this machine (BENCHMARKS.md,
// issue 13): through @effect/sql a turn's begin and complete cost ~600 µs of the worker's CPU,
// written out like this ~140 µs (node:sqlite) — a span, a Scope, a semaphore permit, a compiled
// statement and a Schema row decode per statement were most of it. The group commit around them
// (one BEGIN IMMEDIATE, a savepoint per call, one COMMIT) is GroupTransaction.ts.
import type { TurnIds } from "../../adapters/TurnIntake.js"
import type { ChatMessage } from "../../agents/Agent.js"
import { boundedContext, defaultMaxContextMessages, type SeqMessage } from "../ContextBound.js"
import type { BegunTurn, Delivery, SessionInbound } from "../SessionDb.js"
import { SessionDbError } from "../SessionDb.js"
import { engineError } from "../SqliteClient.js"
import type { SqliteDriver, SqlRow, SqlValue } from "../SqliteDriver.js"
import { timeOrderedId } from "../TimeOrderedId.js"

export interface TurnWrites {
  readonly beginTurn: (inbound: SessionInbound) => BegunTurn
  readonly completeTurn: (ids: TurnIds, reply: string) => void
  readonly failTurn: (ids: TurnIds, message: string) => void
  readonly interruptTurn: (ids: TurnIds, reason: string) => void
}

export interface TurnWritesOptions {
  /** Platforms whose reply travels on the request itself (TurnJournal's JournalOptions). */
  readonly requestResponsePlatforms: ReadonlyArray<string>
  readonly maxContextMessages?: number
}

interface TurnFacts {
  readonly id: string
  readonly session_id: string
  readonly status: string
  readonly reason: string | null
  readonly delivery: string
}

/** A row that is not what the schema says: the file was changed behind the gateway's back. */
const unexpected = (column: string, problem: string) =>
  new SessionDbError({ message: `unexpected row in the session database: column ${column} ${problem}`, reason: "storage" })

const text = (row: SqlRow, column: string): string => {
  const value = row[column]
  if (typeof value !== "string") throw unexpected(column, `is ${value === null ? "NULL" : typeof value}, not text`)
  return value
}

const textOrNull = (row: SqlRow, column: string): string | null => (row[column] === null ? null : text(row, column))

const integer = (row: SqlRow, column: string): number => {
  const value = Number(row[column])
  if (!Number.isSafeInteger(value)) throw unexpected(column, `is not an integer: ${String(row[column])}`)
  return value
}

const asRole = (value: string): ChatMessage["role"] => {
  if (value === "system" || value === "user" || value === "assistant") return value
  throw unexpected("role", `holds the unknown role ${JSON.stringify(value)}`)
}

export const makeTurnWrites = (driver: SqliteDriver, options: TurnWritesOptions): TurnWrites => {
  // An engine's error leaves as the SqlError the in-process client would raise, so the caller maps
  // it to a SessionDbError exactly as for a journal call; anything else thrown here is a bug.
  const query = (sql: string, params: ReadonlyArray<SqlValue>): ReadonlyArray<SqlRow> => {
    try {
      return driver.query(sql, params)
    } catch (cause) {
      throw engineError(driver, sql, cause)
    }
  }
  const requestResponse = new Set(options.requestResponsePlatforms)
  const maxContext = Math.max(1, Math.floor(options.maxContextMessages ?? defaultMaxContextMessages))

  const nextSeq = (sessionId: string): number =>
    integer(query("SELECT COALESCE(MAX(seq), 0) + 1 AS next_seq FROM messages WHERE session_id = ?", [sessionId])[0] ?? { next_seq: 1 }, "next_seq")

  const touchSession = (sessionId: string, at: string) => query("UPDATE sessions SET updated_at = ? WHERE id = ?", [at, sessionId])

  const insertMessage = (sessionId: string, seq: number, role: string, content: string, turnId: string | null, at: string) =>
    query("INSERT INTO messages (session_id, seq, role, content, turn_id, created_at) VALUES (?, ?, ?, ?, ?, ?)", [
      sessionId,
      seq,
      role,
      content,
      turnId,
      at
    ])

  /** The bounded context ending with message `lastSeq` (TurnJournal's contextUpTo). */
  const contextUpTo = (sessionId: string, lastSeq: number): ReadonlyArray<ChatMessage> => {
    const system = query(
      "SELECT seq, role, content FROM messages WHERE session_id = ? AND role = 'system' AND seq <= ? ORDER BY seq LIMIT ?",
      [sessionId, lastSeq, maxContext]
    )
    const recent = query(
      "SELECT seq, role, content FROM messages WHERE session_id = ? AND role <> 'system' AND seq <= ? ORDER BY seq DESC LIMIT ?",
      [sessionId, lastSeq, maxContext]
    )
    const rows: Array<SeqMessage> = [...system, ...recent].map((row) => ({
      seq: integer(row, "seq"),
      role: asRole(text(row, "role")),
      content: text(row, "content")
    }))
    return boundedContext(rows, maxContext)
  }

  /** The turn `turnId`, which must belong to `sessionId` (TurnJournal's findTurn). */
  const findTurn = (turnId: string, sessionId: string): TurnFacts => {
    const row = query(
      `SELECT t.id, t.session_id, t.status, t.reason, t.delivery
       FROM turns t JOIN sessions s ON s.id = t.session_id WHERE t.id = ?`,
      [turnId]
    )[0]
    if (row === undefined || text(row, "session_id") !== sessionId) {
      throw new SessionDbError({ message: `unknown turn ${turnId} in session ${sessionId}`, reason: "unknown_turn" })
    }
    return {
      id: text(row, "id"),
      session_id: text(row, "session_id"),
      status: text(row, "status"),
      reason: textOrNull(row, "reason"),
      delivery: text(row, "delivery")
    }
  }

  // No owner to check (TurnOwnership.ts): replicas share PostgreSQL, never a SQLite file.
  const requireRunning = (turn: TurnFacts) => {
    if (turn.status !== "running") {
      throw new SessionDbError({ message: `turn ${turn.id} is ${turn.status}, not running`, reason: "turn_not_running" })
    }
  }

  const beginTurn = (inbound: SessionInbound): BegunTurn => {
    const at = new Date().toISOString()
    const key = inbound.sessionKey
    const found = key === undefined ? undefined : query(
      `SELECT id, platform, chat_key, status FROM sessions
       WHERE platform = ? AND (chat_key = ? OR id = ?) ORDER BY chat_key = ? DESC LIMIT 1`,
      [inbound.platform, key, key, key]
    )[0]
    let sessionId: string
    let seq: number
    // A session made by this call holds exactly its history and the message: its context needs no
    // read, and its updated_at is already this turn's time.
    let fresh: ReadonlyArray<ChatMessage> | undefined
    if (found !== undefined) {
      sessionId = text(found, "id")
      if (inbound.externalId !== undefined) {
        const earlier = query("SELECT id FROM turns WHERE session_id = ? AND external_id = ?", [sessionId, inbound.externalId])[0]
        if (earlier !== undefined) return { ids: { turnId: text(earlier, "id"), sessionId }, context: [], duplicate: true }
      }
      if (text(found, "status") === "suspended") {
        throw new SessionDbError({
          message: `session ${sessionId} (${text(found, "platform")} ${text(found, "chat_key")}) is suspended: a turn in it was interrupted ` +
            `by three gateway deaths in a row; \`hermes gateway sessions reactivate ${sessionId}\` lets it take new messages`,
          reason: "suspended"
        })
      }
      seq = nextSeq(sessionId)
    } else {
      sessionId = timeOrderedId()
      query("INSERT INTO sessions (id, platform, chat_key, user, created_at, updated_at, status) VALUES (?, ?, ?, ?, ?, ?, 'active')", [
        sessionId,
        inbound.platform,
        key ?? sessionId,
        inbound.user ?? null,
        at,
        at
      ])
      // A new session's history came with this request: stored once, before the message.
      inbound.history.forEach((message, i) => insertMessage(sessionId, i + 1, message.role, message.content, null, at))
      seq = inbound.history.length + 1
      fresh = inbound.history
    }
    const turnId = timeOrderedId()
    const delivery: Delivery = requestResponse.has(inbound.platform) ? "request_response" : "push"
    query(
      `INSERT INTO turns (id, session_id, inbound_seq, status, reason, delivery, started_at, ended_at, interrupted_lives,
                          external_id, delivered_at, owner)
       VALUES (?, ?, ?, 'running', NULL, ?, ?, NULL, 0, ?, NULL, ?)`,
      [turnId, sessionId, seq, delivery, at, inbound.externalId ?? null, null]
    )
    insertMessage(sessionId, seq, "user", inbound.text, turnId, at)
    if (fresh !== undefined) {
      const context = boundedContext([...fresh, { role: "user" as const, content: inbound.text }].map((m, i) => ({ ...m, seq: i + 1 })), maxContext)
      return { ids: { turnId, sessionId }, context, duplicate: false }
    }
    touchSession(sessionId, at)
    return { ids: { turnId, sessionId }, context: contextUpTo(sessionId, seq), duplicate: false }
  }

  const completeTurn = (ids: TurnIds, reply: string): void => {
    requireRunning(findTurn(ids.turnId, ids.sessionId))
    const at = new Date().toISOString()
    insertMessage(ids.sessionId, nextSeq(ids.sessionId), "assistant", reply, ids.turnId, at)
    query("UPDATE turns SET status = 'completed', reason = NULL, ended_at = ? WHERE id = ?", [at, ids.turnId])
    touchSession(ids.sessionId, at)
  }

  const failTurn = (ids: TurnIds, message: string): void => {
    requireRunning(findTurn(ids.turnId, ids.sessionId))
    const at = new Date().toISOString()
    query("UPDATE turns SET status = 'failed', reason = ?, ended_at = ? WHERE id = ?", [message, at, ids.turnId])
    touchSession(ids.sessionId, at)
  }

  const interruptTurn = (ids: TurnIds, reason: string): void => {
    const turn = findTurn(ids.turnId, ids.sessionId)
    // Landing after the turn ended, its real outcome stands (TurnJournal's interruptTurn).
    if (turn.status !== "running") return
    const at = new Date().toISOString()
    const status = turn.delivery === "request_response" ? "interrupted" : "resume_pending"
    query("UPDATE turns SET status = ?, reason = ?, ended_at = ? WHERE id = ?", [status, reason, at, ids.turnId])
    touchSession(ids.sessionId, at)
  }

  return { beginTurn, completeTurn, failTurn, interruptTurn }
}
