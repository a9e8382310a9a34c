// Recovery of other replicas' turns: at start and then every lease_renew_every, the running turns
// whose owner's lease has expired (or whose owner has no lease row and which are older than a
// lease) are recovered exactly as a gateway recovers its own at restart (CrashRecovery.ts: request/
// response -> interrupted, push -> resume_pending, the three-lives breaker). The candidates, the
// decision and the updates are one serializable transaction: a renewal that lands meanwhile aborts
// one of them (run again), so a live replica's turns are never touched.
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { recoverTurns, type TurnRecovery } from "../sessions/CrashRecovery.js"
import { decodeRows } from "../sessions/SessionRows.js"
import { leaseExpiredMark } from "../sessions/TurnOwnership.js"
import { type ForeignTurn, recoverableByOwner } from "./LeaseDecisions.js"
import { dbNowMs, type Transact } from "./ReplicaLease.js"
import type { ReplicaSettings } from "./ReplicaSettings.js"

const CandidateRow = Schema.Struct({
  id: Schema.String,
  owner: Schema.NullOr(Schema.String),
  started_at: Schema.String,
  expires_at_ms: Schema.NullOr(Schema.Number),
  now_ms: Schema.Number
})

/** The reason recorded on a turn taken from `owner` (TurnOwnership.ts recognises it). */
export const takenOverReason = (owner: string | null, me: string) =>
  `replica ${owner ?? "(none: begun before replicas)"} stopped without recording this turn's end ` +
  `(${leaseExpiredMark}); recovered by replica ${me}`

export interface TakenOver {
  readonly owner: string | null
  readonly recovery: TurnRecovery
}

/** One pass: what it recovered, per owner (empty when nothing was due). */
export const recoverExpiredTurns = (
  sql: SqlClient.SqlClient,
  transact: Transact,
  replica: ReplicaSettings,
  maxInterruptedLives: number
) =>
  transact(sql.withTransaction(Effect.gen(function*() {
    const rows = yield* sql`
      SELECT t.id, t.owner, t.started_at, l.expires_at_ms, ${dbNowMs(sql)} AS now_ms
      FROM turns t LEFT JOIN replica_leases l ON l.replica_id = t.owner
      WHERE t.status = 'running' AND (t.owner IS NULL OR t.owner <> ${replica.id})`.pipe(
      Effect.flatMap(decodeRows(CandidateRow, "turn"))
    )
    if (rows.length === 0) return []
    const turns: Array<ForeignTurn> = rows.map((row) => ({
      id: row.id,
      owner: row.owner,
      startedAtMs: Date.parse(row.started_at),
      leaseExpiresAtMs: row.expires_at_ms
    }))
    const due = recoverableByOwner(turns, replica.id, rows[0]!.now_ms, Duration.toMillis(replica.lease))
    const taken: Array<TakenOver> = []
    for (const [owner, ids] of due) {
      const recovery = yield* recoverTurns(sql, {
        crashed: true,
        maxInterruptedLives,
        which: { _tag: "listed", ids },
        reason: takenOverReason(owner, replica.id)
      })
      taken.push({ owner, recovery })
    }
    return taken
  })))

const describe = (replica: ReplicaSettings, { owner, recovery }: TakenOver) =>
  `replica ${replica.id} recovered the running turns of replica ${owner ?? "(none)"} (${leaseExpiredMark}): ` +
  `interrupted=${recovery.interrupted} resume_pending=${recovery.resumePending} failed=${recovery.failed} ` +
  `suspended=${recovery.suspendedSessions.length} turns=${(recovery.turnIds ?? []).join(",")}`

/** At start and every renewEvery after; a failed pass (the database lost) is logged at debug and tried next time. */
export const recoveryLoop = (
  sql: SqlClient.SqlClient,
  transact: Transact,
  replica: ReplicaSettings,
  maxInterruptedLives: number
) =>
  recoverExpiredTurns(sql, transact, replica, maxInterruptedLives).pipe(
    Effect.flatMap((taken) => Effect.forEach(taken, (one) => Effect.logWarning(describe(replica, one)), { discard: true })),
    Effect.catchAllCause((cause) => Effect.logDebug(`replica ${replica.id}: recovery pass failed`, cause)),
    Effect.repeat(Schedule.spaced(replica.renewEvery))
  )
