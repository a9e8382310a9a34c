// The durable journal's housekeeping (SessionHousekeeping.ts says what is pruned and why): the
// decision isPrunable as one SQL predicate, and the lookup of a session by a client's key.
import type { SqlClient } from "@effect/sql/SqlClient"
import type { Fragment } from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import type { PruneResult, SessionDbError, SessionSummary } from "./SessionDb.js"
import type { Housekeeping } from "./SessionHousekeeping.js"
import { decodeRows, PruneCountsRow, SessionSummaryRow } from "./SessionRows.js"

/**
 * The durable journal's housekeeping. `operation` is the journal's wrapper (closed check,
 * uninterruptible, errors named after the file); `summary` turns a row into a SessionSummary.
 */
export const sqlHousekeeping = (
  sql: SqlClient,
  operation: <A>(what: string, effect: Effect.Effect<A, unknown>) => Effect.Effect<A, SessionDbError>,
  summary: (row: typeof SessionSummaryRow.Type) => SessionSummary
): Housekeeping => {
  // isPrunable in SQL. The range on updated_at reads the index sessions_by_activity; NOT EXISTS
  // reads turns_by_session. Deleting the rows of one doomed session changes no other session's
  // answer, so the same predicate names the same sessions in every statement of the transaction.
  const doomed = (cutoff: string) =>
    sql`SELECT s.id FROM sessions s
        WHERE s.status = 'active' AND s.updated_at < ${cutoff}
          AND NOT EXISTS (
            SELECT 1 FROM turns t WHERE t.session_id = s.id
              AND (t.status IN ('running', 'resume_pending') OR (t.delivery = 'push' AND t.delivered_at IS NULL)))`

  const prune: Housekeeping["prune"] = (cutoff) =>
    operation("prune sessions", sql.withTransaction(Effect.gen(function*() {
      const counted = yield* sql`
        SELECT (SELECT COUNT(*) FROM sessions WHERE id IN (${doomed(cutoff)})) AS sessions,
               (SELECT COUNT(*) FROM turns WHERE session_id IN (${doomed(cutoff)})) AS turns,
               (SELECT COUNT(*) FROM messages WHERE session_id IN (${doomed(cutoff)})) AS messages`.pipe(
        Effect.flatMap(decodeRows(PruneCountsRow, "count"))
      )
      const counts: PruneResult = counted[0] ?? { sessions: 0, turns: 0, messages: 0 }
      if (counts.sessions === 0) return counts
      // Messages refer to turns, turns to sessions: removed in that order.
      yield* sql`DELETE FROM messages WHERE session_id IN (${doomed(cutoff)})`
      yield* sql`DELETE FROM turns WHERE session_id IN (${doomed(cutoff)})`
      yield* sql`DELETE FROM sessions WHERE id IN (${doomed(cutoff)})`
      return counts
    })))

  const sessionsByKey: Housekeeping["sessionsByKey"] = (key) =>
    operation("find a session", sql.withTransaction(Effect.gen(function*() {
      const select = (where: Fragment) =>
        sql`SELECT s.id, s.platform, s.chat_key, s.user, s.created_at, s.updated_at, s.status,
                   (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count
            FROM sessions s WHERE ${where} ORDER BY s.platform, s.id`.pipe(
          Effect.flatMap(decodeRows(SessionSummaryRow, "session"))
        )
      const byId = yield* select(sql`s.id = ${key}`)
      if (byId.length > 0) return byId.map(summary)
      return (yield* select(sql`s.chat_key = ${key}`)).map(summary)
    })))

  return { prune, sessionsByKey }
}
