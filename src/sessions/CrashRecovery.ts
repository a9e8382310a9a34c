// Crash recovery at open: the integrity check, and the turns a dead life left `running`. A turn
// that was running in three lives that died becomes `failed` and its session `suspended`, so a
// message that kills the gateway cannot keep a supervisor restarting it for ever.
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { clearDeliveryLog, readDeliveryLog } from "./DeliveryLog.js"
import { describeFailure } from "./SessionDbFailure.js"
import { decodeRows, IntegrityRow, TurnRow } from "./SessionRows.js"
import type { EngineName } from "./SqliteDriver.js"

/** Appended by the kernel to logs/lifecycle.jsonl (snake_case, like every record there). */
export interface RecoveryReport {
  readonly file: string
  readonly engine: EngineName | "postgresql"
  readonly previous_life_crashed: boolean
  /** "ok", "not checked" (the previous life shut down in order), or SQLite's first findings. */
  readonly integrity: string
  /** The corrupt database that was moved aside before a fresh one was created, if any. */
  readonly moved_aside: { readonly reason: string; readonly moved_to: string; readonly files: ReadonlyArray<string> } | null
  /** node-sqlite3-wasm: a `.lock` directory left by a killed process was removed. */
  readonly removed_stale_lock: boolean
  readonly turns_interrupted: number
  readonly turns_resume_pending: number
  readonly turns_failed: number
  readonly sessions_suspended: ReadonlyArray<string>
  readonly took_ms: number
}

export interface TurnRecovery {
  readonly interrupted: number
  readonly resumePending: number
  readonly failed: number
  readonly suspendedSessions: ReadonlyArray<string>
  /** The turns recovered. */
  readonly turnIds?: ReadonlyArray<string>
}

export const crashReason = "gateway died without shutting down"
export const unrecordedReason = "gateway stopped without recording this turn's end"

export interface RecoverOptions {
  /** The previous life died without shutting down (decides the recorded reason). */
  readonly crashed: boolean
  /** Lives after which a turn fails and its session is suspended (3). */
  readonly maxInterruptedLives: number
  /**
   * Which running turns: every one (default: one gateway per database, the caller holds the home
   * lock), those of one replica id and those without an owner (a replica at its start), or the
   * listed ones (another replica's whose lease expired; src/replicas/ReplicaRecovery.ts).
   */
  readonly which?: RecoverWhich
  /** The reason recorded instead of crashReason / unrecordedReason. */
  readonly reason?: string
}

export type RecoverWhich =
  | { readonly _tag: "all" }
  | { readonly _tag: "owned"; readonly owner: string }
  | { readonly _tag: "listed"; readonly ids: ReadonlyArray<string> }

const runningTurns = (sql: SqlClient.SqlClient, which: RecoverWhich) => {
  const select = sql`
      SELECT t.id, t.session_id, s.platform, t.inbound_seq, t.status, t.reason, t.delivery, t.started_at,
             t.ended_at, t.interrupted_lives
      FROM turns t JOIN sessions s ON s.id = t.session_id WHERE t.status = 'running'`
  const rows = which._tag === "all"
    ? sql`${select} ORDER BY t.started_at`
    : which._tag === "owned"
    ? sql`${select} AND (t.owner = ${which.owner} OR t.owner IS NULL) ORDER BY t.started_at`
    : which.ids.length === 0
    ? null
    : sql`${select} AND t.id IN ${sql.in(which.ids)} ORDER BY t.started_at`
  return rows === null ? Effect.succeed([]) : rows.pipe(Effect.flatMap(decodeRows(TurnRow, "turn")))
}

/** `PRAGMA integrity_check`: "ok", or the first problems SQLite lists. */
export const integrityCheck = (sql: SqlClient.SqlClient) =>
  sql`PRAGMA integrity_check(20)`.pipe(
    Effect.flatMap(decodeRows(IntegrityRow, "integrity_check")),
    Effect.map((rows) => rows.map((r) => r.integrity_check).join("; ") || "no result")
  )

/**
 * Every turn still `running` belongs to a life that is over (the caller holds the home lock), so
 * its end was never recorded: it counts one more interrupted life, then becomes `resume_pending`
 * (push platforms) or `interrupted` (request/response: the client's connection is gone). The count
 * lives on the turn row, so a resumed turn that dies again keeps counting.
 */
export const recoverTurns = (sql: SqlClient.SqlClient, options: RecoverOptions) =>
  sql.withTransaction(Effect.gen(function*() {
    const at = new Date(yield* Clock.currentTimeMillis).toISOString()
    const running = yield* runningTurns(sql, options.which ?? { _tag: "all" })
    const reason = options.reason ?? (options.crashed ? crashReason : unrecordedReason)
    let interrupted = 0
    let resumePending = 0
    let failed = 0
    const suspended = new Set<string>()
    for (const turn of running) {
      const lives = turn.interrupted_lives + 1
      if (lives >= options.maxInterruptedLives) {
        const why = `${reason}; running in ${lives} gateway lives that died: failed, session suspended (restart-loop breaker)`
        yield* sql`UPDATE turns SET status = 'failed', reason = ${why}, ended_at = ${at}, interrupted_lives = ${lives}
                   WHERE id = ${turn.id} AND status = 'running'`
        yield* sql`UPDATE sessions SET status = 'suspended', updated_at = ${at} WHERE id = ${turn.session_id}`
        suspended.add(turn.session_id)
        failed++
      } else {
        const status = turn.delivery === "request_response" ? "interrupted" : "resume_pending"
        yield* sql`UPDATE turns SET status = ${status}, reason = ${reason}, ended_at = ${at}, interrupted_lives = ${lives}
                   WHERE id = ${turn.id} AND status = 'running'`
        yield* sql`UPDATE sessions SET updated_at = ${at} WHERE id = ${turn.session_id}`
        if (status === "interrupted") interrupted++
        else resumePending++
      }
    }
    return { interrupted, resumePending, failed, suspendedSessions: Array.from(suspended), turnIds: running.map((t) => t.id) } satisfies TurnRecovery
  }))

/** Bound parameters per statement, well below SQLite's limit. */
const foldChunk = 500

/**
 * The delivery log of a life that ended (see DeliveryLog.ts) into the database: every ended turn
 * it names counts as delivered. Ids of turns that are unknown or not ended are ignored. Returns
 * how many turns it newly marked.
 */
export const foldDeliveries = (sql: SqlClient.SqlClient, turnIds: ReadonlyArray<string>) =>
  sql.withTransaction(Effect.gen(function*() {
    const at = new Date(yield* Clock.currentTimeMillis).toISOString()
    let marked = 0
    const unique = [...new Set(turnIds)]
    for (let start = 0; start < unique.length; start += foldChunk) {
      const chunk = unique.slice(start, start + foldChunk)
      const rows = yield* sql`UPDATE turns SET delivered_at = ${at}
        WHERE id IN ${sql.in(chunk)} AND delivered_at IS NULL AND status IN ('completed', 'failed', 'interrupted')
        RETURNING id`
      marked += rows.length
    }
    return marked
  }))

/**
 * Answers the last life delivered but had not yet recorded in the database. A log that cannot be
 * read or emptied is left alone with a warning: at worst those answers are sent once more.
 */
export const foldDeliveryLog = (sql: SqlClient.SqlClient, logFile: string) =>
  Effect.gen(function*() {
    const read = yield* Effect.try(() => readDeliveryLog(logFile)).pipe(Effect.either)
    if (read._tag === "Left") {
      yield* Effect.logWarning(`cannot read the delivery log ${logFile} (${describeFailure(read.left.error)}); answers it lists may be sent again`)
      return 0
    }
    const folded = read.right.length === 0 ? 0 : yield* foldDeliveries(sql, read.right)
    yield* Effect.try(() => clearDeliveryLog(logFile)).pipe(
      Effect.catchAll((error) => Effect.logWarning(`cannot empty the delivery log ${logFile}: ${describeFailure(error.error)}`))
    )
    return folded
  })
