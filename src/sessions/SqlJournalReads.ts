// The durable journal's reads: the backlog a new life acts on, the session list, a transcript and
// the turn list, with the rows mapped to the records SessionDb.ts describes. Kept apart from the
// writes in TurnJournal.ts, which hand in their `operation` wrapper like SqlHousekeeping.ts.
import type { SqlClient } from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type { BacklogTurn, SessionDbError, SessionDbService, SessionSummary, TurnRecord } from "./SessionDb.js"
import { BacklogRow, decodeRows, MessageRow, SessionSummaryRow, TurnRow } from "./SessionRows.js"

export const summaryOf = (row: typeof SessionSummaryRow.Type): SessionSummary => ({
  id: row.id,
  platform: row.platform,
  chatKey: row.chat_key,
  user: row.user,
  messageCount: row.message_count,
  createdAt: row.created_at,
  lastActivity: row.updated_at,
  status: row.status
})

export const turnOf = (row: typeof TurnRow.Type): TurnRecord => ({
  id: row.id,
  sessionId: row.session_id,
  platform: row.platform,
  inboundSeq: row.inbound_seq,
  status: row.status,
  reason: row.reason,
  delivery: row.delivery,
  startedAt: row.started_at,
  endedAt: row.ended_at,
  interruptedLives: row.interrupted_lives
})

/**
 * The backlog (no parameters). `delivery = 'push' AND delivered_at IS NULL` is the predicate of the
 * partial index turns_push_undelivered (migration 2), so SQLite reads only that index (a handful
 * of rows, then sorted), never the whole turns table. The status conditions are inequalities on purpose: an
 * `IN`/`=` on status makes the planner prefer turns_by_status (MULTI-INDEX OR plus a sort over every
 * completed turn ever recorded). A resume_pending turn never has delivered_at set: only ended turns
 * get it, and they stay ended. Resume_pending turns of suspended sessions wait for reactivation;
 * undelivered ended ones are listed whatever the session's status.
 */
export const backlogQuery = `
  SELECT t.id, t.session_id, s.platform, s.chat_key, t.status, m.content AS inbound,
         CASE WHEN t.status = 'completed' THEN
           (SELECT a.content FROM messages a WHERE a.turn_id = t.id AND a.role = 'assistant' ORDER BY a.seq LIMIT 1)
         END AS reply,
         CASE WHEN t.status IN ('failed', 'interrupted') THEN t.reason END AS reason,
         t.started_at, t.interrupted_lives, t.reply_ref
  FROM turns t
  JOIN sessions s ON s.id = t.session_id
  JOIN messages m ON m.session_id = t.session_id AND m.seq = t.inbound_seq
  WHERE t.delivery = 'push' AND t.delivered_at IS NULL
    AND t.status <> 'running' AND (t.status <> 'resume_pending' OR s.status = 'active')
  ORDER BY t.started_at, t.rowid`

export type JournalReads = Pick<SessionDbService, "backlog" | "listSessions" | "transcript" | "turns">

/**
 * The reads of the journal on `sql`. `operation` is the journal's wrapper (closed check,
 * uninterruptible, errors named after the file); `findSession` its lookup of one session's row.
 */
export const sqlJournalReads = (
  sql: SqlClient,
  operation: <A>(what: string, effect: Effect.Effect<A, unknown>) => Effect.Effect<A, SessionDbError>,
  findSession: (sessionId: string) => Effect.Effect<typeof SessionSummaryRow.Type, unknown>
): JournalReads => {
  const backlog: SessionDbService["backlog"] = operation(
    "read the backlog",
    sql.unsafe(backlogQuery).pipe(
      Effect.flatMap(decodeRows(BacklogRow, "backlog")),
      Effect.map((rows) =>
        rows.map((row): BacklogTurn => ({
          ids: { turnId: row.id, sessionId: row.session_id },
          platform: row.platform,
          chatKey: row.chat_key,
          status: row.status,
          inbound: row.inbound,
          reply: row.reply,
          reason: row.reason,
          startedAt: row.started_at,
          interruptedLives: row.interrupted_lives,
          replyRef: row.reply_ref
        }))
      )
    )
  )

  const listSessions: SessionDbService["listSessions"] = operation(
    "list sessions",
    sql`SELECT s.id, s.platform, s.chat_key, s.user, s.created_at, s.updated_at, s.status,
               (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count
        FROM sessions s ORDER BY s.updated_at DESC, s.id`.pipe(
      Effect.flatMap(decodeRows(SessionSummaryRow, "session")),
      Effect.map((rows) => rows.map(summaryOf))
    )
  )

  const transcript: SessionDbService["transcript"] = (sessionId) =>
    operation("read a transcript", sql.withTransaction(Effect.gen(function*() {
      const session = yield* findSession(sessionId)
      const messages = yield* sql`
        SELECT m.seq, m.role, m.content, m.turn_id, t.status AS turn_status, m.created_at
        FROM messages m LEFT JOIN turns t ON t.id = m.turn_id
        WHERE m.session_id = ${sessionId} ORDER BY m.seq`.pipe(Effect.flatMap(decodeRows(MessageRow, "message")))
      return {
        session: summaryOf(session),
        messages: messages.map((m) => ({
          seq: m.seq,
          role: m.role,
          content: m.content,
          turnId: m.turn_id,
          turnStatus: m.turn_status,
          createdAt: m.created_at
        }))
      }
    })))

  const turns: SessionDbService["turns"] = (filter) => {
    const clauses = [
      ...(filter?.sessionId === undefined ? [] : [sql`t.session_id = ${filter.sessionId}`]),
      ...(filter?.status === undefined ? [] : [sql`t.status = ${filter.status}`])
    ]
    return operation(
      "list turns",
      sql`SELECT t.id, t.session_id, s.platform, t.inbound_seq, t.status, t.reason, t.delivery, t.started_at,
                 t.ended_at, t.interrupted_lives
          FROM turns t JOIN sessions s ON s.id = t.session_id
          WHERE ${sql.and(clauses)} ORDER BY t.started_at, t.rowid`.pipe(
        Effect.flatMap(decodeRows(TurnRow, "turn")),
        Effect.map((rows) => rows.map(turnOf))
      )
    )
  }

  return { backlog, listSessions, transcript, turns }
}
