// This replica's lease row in PostgreSQL (replica_leases, schema 4): taken at start, renewed on a
// fixed schedule by a fiber in the connection's scope, and given up when the database closes, so a
// planned stop hands its (by then ended) turns' lease back at once. Every time is the database's
// clock, so no replica's clock decides whether another is alive.
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { SessionDbError } from "../sessions/SessionDbError.js"
import { describeFailure } from "../sessions/SessionDbFailure.js"
import { decodeRows } from "../sessions/SessionRows.js"
import { leaseClaim } from "./LeaseDecisions.js"
import type { ReplicaSettings } from "./ReplicaSettings.js"

/** The database's clock in epoch milliseconds (clock_timestamp: the instant, not the transaction's start). */
export const dbNowMs = (sql: SqlClient.SqlClient) => sql.literal("(extract(epoch from clock_timestamp()) * 1000)::bigint")

const NowRow = Schema.Struct({ now_ms: Schema.Number })
const HolderRow = Schema.Struct({ host: Schema.String, home: Schema.String, expires_at_ms: Schema.Number })

/** Every statement of a lease runs inside this: one transaction, retried on a serialization conflict. */
export type Transact = <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E | SessionDbError>

/**
 * Takes the lease of `replica.id` for this host and home: refused (exit 78) while another live
 * gateway holds the same id from elsewhere (two homes configured with one replica_id).
 */
export const acquireLease = (sql: SqlClient.SqlClient, transact: Transact, replica: ReplicaSettings) =>
  transact(sql.withTransaction(Effect.gen(function*() {
    const leaseMs = Duration.toMillis(replica.lease)
    const [now] = yield* sql`SELECT ${dbNowMs(sql)} AS now_ms`.pipe(Effect.flatMap(decodeRows(NowRow, "clock")))
    const nowMs = now?.now_ms ?? 0
    const holders = yield* sql`SELECT host, home, expires_at_ms FROM replica_leases WHERE replica_id = ${replica.id} FOR UPDATE`.pipe(
      Effect.flatMap(decodeRows(HolderRow, "lease"))
    )
    const holder = holders[0]
    const claim = leaseClaim(holder === undefined ? null : { ...holder, expiresAtMs: holder.expires_at_ms }, replica, nowMs)
    if (claim === "held" && holder !== undefined) {
      return yield* new SessionDbError({
        message: `sessions.postgres.replica_id: replica id ${replica.id} is in use by a live gateway on ${holder.host} ` +
          `(home ${holder.home}); give every replica its own replica_id`,
        reason: "refused"
      })
    }
    const startedAt = new Date(nowMs).toISOString()
    yield* sql`INSERT INTO replica_leases (replica_id, host, home, started_at, expires_at_ms)
               VALUES (${replica.id}, ${replica.host}, ${replica.home}, ${startedAt}, ${dbNowMs(sql)} + ${leaseMs})
               ON CONFLICT (replica_id) DO UPDATE SET host = EXCLUDED.host, home = EXCLUDED.home,
                 started_at = EXCLUDED.started_at, expires_at_ms = EXCLUDED.expires_at_ms`
  })))

/** One renewal: true when the row is still ours (false: another home took the id after ours lapsed). */
export const renewLease = (sql: SqlClient.SqlClient, replica: ReplicaSettings) =>
  sql`UPDATE replica_leases SET expires_at_ms = ${dbNowMs(sql)} + ${Duration.toMillis(replica.lease)}
      WHERE replica_id = ${replica.id} AND host = ${replica.host} AND home = ${replica.home} RETURNING replica_id`.pipe(
    Effect.map((rows) => rows.length > 0)
  )

/** Ends the lease now: whatever this replica left running is another's to recover at once. */
export const releaseLease = (sql: SqlClient.SqlClient, replica: ReplicaSettings) =>
  sql`UPDATE replica_leases SET expires_at_ms = ${dbNowMs(sql)}
      WHERE replica_id = ${replica.id} AND host = ${replica.host} AND home = ${replica.home}`.pipe(Effect.asVoid)

/**
 * Renews every `renewEvery` (a fixed schedule, so the cadence does not drift with slow renewals),
 * each attempt bounded by the lease. Logs a failure once per episode and its end, and when the
 * lease lapsed (turns in flight may then be recovered by another replica: fencing refuses their end).
 */
export const renewalLoop = (sql: SqlClient.SqlClient, replica: ReplicaSettings, retry: Transact) =>
  Effect.gen(function*() {
    const failing = yield* Ref.make<string | null>(null)
    const attempt = retry(renewLease(sql, replica)).pipe(
      Effect.timeoutFail({ duration: replica.lease, onTimeout: () => new Error(`no answer within ${Duration.format(replica.lease)}`) }),
      Effect.matchEffect({
        onFailure: (error) =>
          Ref.getAndSet(failing, describeFailure(error)).pipe(Effect.flatMap((before) =>
            before === null
              ? Effect.logWarning(`replica ${replica.id}: cannot renew its lease (${describeFailure(error)}); ` +
                `after ${Duration.format(replica.lease)} without a renewal other replicas may recover its running turns`)
              : Effect.void
          )),
        onSuccess: (ours) =>
          Ref.getAndSet(failing, null).pipe(Effect.flatMap((before) =>
            !ours
              ? Effect.logError(`replica ${replica.id}: its lease row was taken by another gateway with the same replica_id`)
              : before !== null
              ? Effect.log(`replica ${replica.id}: lease renewed again`)
              : Effect.void
          ))
      })
    )
    yield* Effect.repeat(attempt, Schedule.fixed(replica.renewEvery))
  })
