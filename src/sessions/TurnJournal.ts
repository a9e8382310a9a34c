// The durable turn journal: SessionDbService over an @effect/sql client. Every write is one
// IMMEDIATE transaction committed with synchronous=FULL before the call returns, so what a caller
// acknowledges after beginTurn/completeTurn survives a crash (in the gateway's SessionDB worker,
// calls that arrive together run as savepoints of one group commit and are answered after it:
// worker/SessionDbWorker.ts). This file holds the writes; the reads
// are in SqlJournalReads.ts, pruning and lookup by key in SqlHousekeeping.ts.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { TurnIds } from "../adapters/TurnIntake.js"
import type { ChatMessage } from "../agents/Agent.js"
import type { BegunTurn, Delivery, SessionDbService } from "./SessionDb.js"
import { SessionDbError } from "./SessionDb.js"
import type { JournalConnection } from "./JournalConnection.js"
import { type DeliveryLog, deliveredThroughLog } from "./DeliveryLog.js"
import { failWithSessionDbError } from "./SessionDbFailure.js"
import { timedCommit } from "../metrics/GatewayMetrics.js"
import { sqlHousekeeping } from "./SqlHousekeeping.js"
import { ContextRow, decodeRows, NextSeqRow, SessionRow, SessionSummaryRow, TurnIdRow, TurnRow } from "./SessionRows.js"
import { sqlJournalReads, summaryOf } from "./SqlJournalReads.js"
import { boundedContext, defaultMaxContextMessages } from "./ContextBound.js"
import { lostTurnProblem } from "./TurnOwnership.js"
import { timeOrderedId } from "./TimeOrderedId.js"

export interface JournalOptions {
  /** Platforms whose reply travels on the request itself: an interrupted turn cannot be resumed. */
  readonly requestResponsePlatforms: ReadonlyArray<string>
  /** Where markDelivered writes first, before the database (the gateway's journal has one). */
  readonly deliveryLog?: DeliveryLog
  /** The most messages a turn's context holds (sessions.max_context_messages; ContextBound.ts). */
  readonly maxContextMessages?: number
  /**
   * The replica running this journal's turns (PostgreSQL shared by replicas; src/replicas/): its
   * turns carry it as `owner`, and a turn that is no longer its own (recovered by another replica
   * after this one's lease lapsed) is never ended or advanced by it. Absent: owner stays NULL.
   */
  readonly owner?: string
}

export { defaultRequestResponsePlatforms } from "./SessionDb.js"
export { backlogQuery, summaryOf, turnOf } from "./SqlJournalReads.js"

/** SQLite's bound-parameter limit is 32766; history rows are inserted in chunks well below it. */
const historyChunk = 500

const isoNow = Clock.currentTimeMillis.pipe(Effect.map((ms) => new Date(ms).toISOString()))

export const makeTurnJournal = (connection: JournalConnection, options: JournalOptions): SessionDbService => {
  const { sql } = connection
  const file = connection.driver.file
  const requestResponse = new Set(options.requestResponsePlatforms)
  const maxContext = Math.max(1, Math.floor(options.maxContextMessages ?? defaultMaxContextMessages))
  let closeRequested = false

  const closedError = () =>
    new SessionDbError({ message: `the session database ${file} is closed`, reason: "closed" })

  /**
   * Runs one journal operation: refused once close was asked for, uninterruptible (the statements
   * are synchronous and short; a half-run operation would only be rolled back anyway), and with
   * every engine error, commit failures included (@effect/sql turns those into defects), reported
   * as a SessionDbError naming the file.
   */
  const aroundOperation = connection.aroundOperation ?? ((transaction) => transaction)
  const operation = <A>(what: string, effect: Effect.Effect<A, unknown>): Effect.Effect<A, SessionDbError> =>
    Effect.suspend(() => (closeRequested ? Effect.fail(closedError()) : aroundOperation(effect))).pipe(
      Effect.catchAllCause((cause) =>
        connection.isClosed.pipe(
          Effect.flatMap((closed) => (closed ? Effect.fail(closedError()) : failWithSessionDbError(file, what)(cause)))
        )
      ),
      timedCommit,
      Effect.uninterruptible
    )

  const nextSeq = (sessionId: string) =>
    sql`SELECT COALESCE(MAX(seq), 0) + 1 AS next_seq FROM messages WHERE session_id = ${sessionId}`.pipe(
      Effect.flatMap(decodeRows(NextSeqRow, "sequence")),
      Effect.map((rows) => rows[0]?.next_seq ?? 1)
    )

  /**
   * The context ending with message `lastSeq`, bounded: at most `maxContext` of the session's first
   * system messages (partial index messages_system) and of its newest others (the primary key read
   * backwards), so the cost does not grow with the session's history.
   */
  const contextUpTo = (sessionId: string, lastSeq: number) =>
    Effect.all([
      sql`SELECT seq, role, content FROM messages
          WHERE session_id = ${sessionId} AND role = 'system' AND seq <= ${lastSeq} ORDER BY seq LIMIT ${maxContext}`,
      sql`SELECT seq, role, content FROM messages
          WHERE session_id = ${sessionId} AND role <> 'system' AND seq <= ${lastSeq} ORDER BY seq DESC LIMIT ${maxContext}`
    ]).pipe(
      Effect.flatMap(([system, recent]) => decodeRows(ContextRow, "message")([...system, ...recent])),
      Effect.map((rows): ReadonlyArray<ChatMessage> => boundedContext(rows, maxContext))
    )

  /** The turn `turnId`, which must belong to `sessionId` when one is given. */
  const findTurn = (turnId: string, sessionId?: string) =>
    sql`SELECT t.id, t.session_id, s.platform, t.inbound_seq, t.status, t.reason, t.delivery, t.started_at,
               t.ended_at, t.interrupted_lives, t.owner
        FROM turns t JOIN sessions s ON s.id = t.session_id
        WHERE t.id = ${turnId}`.pipe(
      Effect.flatMap(decodeRows(TurnRow, "turn")),
      Effect.flatMap((rows) => {
        const turn = rows[0]
        if (turn === undefined || (sessionId !== undefined && turn.session_id !== sessionId)) {
          const where = sessionId === undefined ? "" : ` in session ${sessionId}`
          return Effect.fail(new SessionDbError({ message: `unknown turn ${turnId}${where}`, reason: "unknown_turn" }))
        }
        return Effect.succeed(turn)
      })
    )

  const owner = options.owner
  /** The turn is running and, with replicas, still this replica's (fencing: TurnOwnership.ts). */
  const requireRunning = (turn: typeof TurnRow.Type) => {
    const lost = lostTurnProblem(turn, owner)
    if (lost !== undefined) return Effect.fail(new SessionDbError({ message: lost, reason: "turn_not_running" }))
    return turn.status === "running"
      ? Effect.void
      : Effect.fail(new SessionDbError({ message: `turn ${turn.id} is ${turn.status}, not running`, reason: "turn_not_running" }))
  }

  const touchSession = (sessionId: string, at: string) => sql`UPDATE sessions SET updated_at = ${at} WHERE id = ${sessionId}`

  const findSession = (sessionId: string) =>
    sql`SELECT s.id, s.platform, s.chat_key, s.user, s.created_at, s.updated_at, s.status,
               (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count
        FROM sessions s WHERE s.id = ${sessionId}`.pipe(
      Effect.flatMap(decodeRows(SessionSummaryRow, "session")),
      Effect.flatMap((rows) =>
        rows[0] === undefined
          ? Effect.fail(new SessionDbError({ message: `no session ${sessionId} in ${file}`, reason: "unknown_session" }))
          : Effect.succeed(rows[0])
      )
    )

  /**
   * The message and its turn are recorded, and the turn's (bounded) context read, in one write
   * transaction: an interruption before the commit leaves nothing behind, and once it returns the
   * turn is the caller's. Reading the context after the commit would shorten the write lock but
   * leave a window in which an interrupted turn stays recorded as running with nobody to end it.
   */
  const beginTurn: SessionDbService["beginTurn"] = (inbound) =>
    operation("begin a turn", sql.withTransaction(Effect.gen(function*() {
      const at = yield* isoNow
      const existing = inbound.sessionKey === undefined
        ? []
        // The key is the platform's chat key, or a session id this gateway handed out earlier
        // (X-Hermes-Session): either continues that session, the chat key first.
        // "user" quoted: unquoted, PostgreSQL reads it as CURRENT_USER.
        : yield* sql`SELECT id, platform, chat_key, "user", created_at, updated_at, status FROM sessions
                     WHERE platform = ${inbound.platform} AND (chat_key = ${inbound.sessionKey} OR id = ${inbound.sessionKey})
                     ORDER BY chat_key = ${inbound.sessionKey} DESC LIMIT 1`.pipe(
          Effect.flatMap(decodeRows(SessionRow, "session"))
        )
      const found = existing[0]
      let sessionId: string
      let seq: number
      if (found !== undefined) {
        // A message the platform delivers again (same externalId, e.g. after a crash before its
        // acknowledgement) is the earlier turn's: nothing is written. Checked before the suspension,
        // so a message already recorded is never reported as refused.
        if (inbound.externalId !== undefined) {
          const earlier = yield* sql`SELECT id FROM turns WHERE session_id = ${found.id} AND external_id = ${inbound.externalId}`.pipe(
            Effect.flatMap(decodeRows(TurnIdRow, "turn"))
          )
          if (earlier[0] !== undefined) {
            return { ids: { turnId: earlier[0].id, sessionId: found.id }, context: [], duplicate: true } satisfies BegunTurn
          }
        }
        if (found.status === "suspended") {
          return yield* new SessionDbError({
            message: `session ${found.id} (${found.platform} ${found.chat_key}) is suspended: a turn in it was interrupted ` +
              `by three gateway deaths in a row; \`hermes gateway sessions reactivate ${found.id}\` lets it take new messages`,
            reason: "suspended"
          })
        }
        sessionId = found.id
        seq = yield* nextSeq(sessionId)
        // The client's copy of the history is not stored again (CONTRACT 9): the session has it.
      } else {
        sessionId = timeOrderedId()
        yield* sql`INSERT INTO sessions ${
          sql.insert({
            id: sessionId,
            platform: inbound.platform,
            chat_key: inbound.sessionKey ?? sessionId,
            user: inbound.user ?? null,
            created_at: at,
            updated_at: at,
            status: "active"
          })
        }`
        // A new session's history came with this request, so it is stored once, before the message.
        for (let start = 0; start < inbound.history.length; start += historyChunk) {
          const chunk = inbound.history.slice(start, start + historyChunk).map((m, i) => ({
            session_id: sessionId,
            seq: start + i + 1,
            role: m.role,
            content: m.content,
            turn_id: null,
            created_at: at
          }))
          yield* sql`INSERT INTO messages ${sql.insert(chunk)}`
        }
        seq = inbound.history.length + 1
      }
      const turnId = timeOrderedId()
      const delivery: Delivery = requestResponse.has(inbound.platform) ? "request_response" : "push"
      yield* sql`INSERT INTO turns ${
        sql.insert({
          id: turnId,
          session_id: sessionId,
          inbound_seq: seq,
          status: "running",
          reason: null,
          delivery,
          started_at: at,
          ended_at: null,
          interrupted_lives: 0,
          external_id: inbound.externalId ?? null,
          delivered_at: null,
          owner: owner ?? null
        })
      }`
      yield* sql`INSERT INTO messages ${
        sql.insert({ session_id: sessionId, seq, role: "user", content: inbound.text, turn_id: turnId, created_at: at })
      }`
      yield* touchSession(sessionId, at)
      const context = yield* contextUpTo(sessionId, seq)
      return { ids: { turnId, sessionId }, context, duplicate: false } satisfies BegunTurn
    })))

  const completeTurn: SessionDbService["completeTurn"] = (ids, reply) =>
    operation("complete a turn", sql.withTransaction(Effect.gen(function*() {
      const turn = yield* findTurn(ids.turnId, ids.sessionId)
      yield* requireRunning(turn)
      const at = yield* isoNow
      const seq = yield* nextSeq(ids.sessionId)
      yield* sql`INSERT INTO messages ${
        sql.insert({ session_id: ids.sessionId, seq, role: "assistant", content: reply, turn_id: ids.turnId, created_at: at })
      }`
      yield* sql`UPDATE turns SET status = 'completed', reason = NULL, ended_at = ${at} WHERE id = ${ids.turnId}`
      yield* touchSession(ids.sessionId, at)
    })))

  const failTurn: SessionDbService["failTurn"] = (ids, message) =>
    operation("record a failed turn", sql.withTransaction(Effect.gen(function*() {
      const turn = yield* findTurn(ids.turnId, ids.sessionId)
      yield* requireRunning(turn)
      const at = yield* isoNow
      yield* sql`UPDATE turns SET status = 'failed', reason = ${message}, ended_at = ${at} WHERE id = ${ids.turnId}`
      yield* touchSession(ids.sessionId, at)
    })))

  const interruptTurn: SessionDbService["interruptTurn"] = (ids, reason) =>
    operation("record an interrupted turn", sql.withTransaction(Effect.gen(function*() {
      const turn = yield* findTurn(ids.turnId, ids.sessionId)
      // The interruption can land after the turn completed: its real outcome stands. A turn another
      // replica took over is its now: this replica records nothing for it.
      if (turn.status !== "running" || lostTurnProblem(turn, owner) !== undefined) return
      const at = yield* isoNow
      const status = turn.delivery === "request_response" ? "interrupted" : "resume_pending"
      yield* sql`UPDATE turns SET status = ${status}, reason = ${reason}, ended_at = ${at} WHERE id = ${ids.turnId}`
      yield* touchSession(ids.sessionId, at)
    })))

  const resumeTurn: SessionDbService["resumeTurn"] = (turnId) =>
    operation("resume a turn", sql.withTransaction(Effect.gen(function*() {
      const turn = yield* findTurn(turnId)
      const sessionId = turn.session_id
      const ids: TurnIds = { turnId, sessionId }
      if (turn.status !== "resume_pending") {
        return yield* new SessionDbError({ message: `turn ${turnId} is ${turn.status}, not resume_pending`, reason: "turn_not_resumable" })
      }
      const session = yield* findSession(sessionId)
      if (session.status === "suspended") {
        return yield* new SessionDbError({ message: `session ${sessionId} is suspended`, reason: "suspended" })
      }
      const at = yield* isoNow
      // Whoever resumes the turn owns it from now on (its earlier owner recorded it as resume_pending).
      yield* sql`UPDATE turns SET status = 'running', reason = NULL, ended_at = NULL, owner = ${owner ?? null} WHERE id = ${turnId}`
      yield* touchSession(sessionId, at)
      // The agent answers the message that began the turn, as if the interruption never happened.
      const context = yield* contextUpTo(sessionId, turn.inbound_seq)
      return { ids, context, duplicate: false, platform: session.platform } satisfies BegunTurn
    })))

  const expireTurn: SessionDbService["expireTurn"] = (turnId, reason) =>
    operation("expire a turn", sql.withTransaction(Effect.gen(function*() {
      const turn = yield* findTurn(turnId)
      if (turn.status !== "resume_pending") {
        return yield* new SessionDbError({ message: `turn ${turnId} is ${turn.status}, not resume_pending`, reason: "turn_not_resumable" })
      }
      const at = yield* isoNow
      // delivered_at stays NULL: the notice that the turn was given up is still owed to its chat.
      yield* sql`UPDATE turns SET status = 'interrupted', reason = ${reason}, ended_at = ${at} WHERE id = ${turnId}`
      yield* touchSession(turn.session_id, at)
    })))

  const markDelivered: SessionDbService["markDelivered"] = (ids) => deliveredThroughLog(options.deliveryLog, ids, recordDelivery)

  const recordDelivery = (ids: TurnIds) =>
    operation("record a delivered answer", sql.withTransaction(Effect.gen(function*() {
      const turn = yield* findTurn(ids.turnId, ids.sessionId)
      if (turn.status !== "completed" && turn.status !== "failed" && turn.status !== "interrupted") {
        return yield* new SessionDbError({
          message: `turn ${ids.turnId} is ${turn.status}: it has no final answer to deliver`,
          reason: "turn_not_ended"
        })
      }
      const at = yield* isoNow
      // Idempotent: a second call keeps the first delivery time.
      yield* sql`UPDATE turns SET delivered_at = COALESCE(delivered_at, ${at}) WHERE id = ${ids.turnId}`
    })))

  const setReplyRef: SessionDbService["setReplyRef"] = (ids, ref) =>
    operation("record where the answer goes", sql.withTransaction(Effect.gen(function*() {
      const turn = yield* findTurn(ids.turnId, ids.sessionId)
      // A turn another replica runs now (resumed there) has its own placeholder: never overwritten.
      const lost = turn.status === "running" ? lostTurnProblem(turn, owner) : undefined
      if (lost !== undefined) return yield* new SessionDbError({ message: lost, reason: "turn_not_running" })
      yield* sql`UPDATE turns SET reply_ref = ${ref} WHERE id = ${ids.turnId}`
    })))


  const reactivateSession: SessionDbService["reactivateSession"] = (sessionId) =>
    operation("reactivate a session", sql.withTransaction(Effect.gen(function*() {
      const at = yield* isoNow
      const updated = yield* sql`UPDATE sessions SET status = 'active', updated_at = ${at} WHERE id = ${sessionId} RETURNING id`
      if (updated.length === 0) {
        return yield* new SessionDbError({ message: `no session ${sessionId} in ${file}`, reason: "unknown_session" })
      }
    })))

  const close: SessionDbService["close"] = Effect.suspend(() => {
    closeRequested = true
    return connection.close
  }).pipe(
    Effect.mapError((error) => new SessionDbError({ message: `cannot close ${file}: ${error.message}`, reason: "storage" })),
    Effect.uninterruptible
  )

  return {
    beginTurn,
    completeTurn,
    failTurn,
    interruptTurn,
    resumeTurn,
    expireTurn,
    markDelivered,
    setReplyRef,
    ...sqlJournalReads(sql, operation, findSession),
    ...sqlHousekeeping(sql, operation, summaryOf),
    reactivateSession,
    close
  }
}
