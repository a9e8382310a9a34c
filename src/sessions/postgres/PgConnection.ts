// A pool of connections to the PostgreSQL SessionDB, as the JournalConnection the turn journal
// writes through. Every session runs SERIALIZABLE with synchronous_commit on, so a commit that
// returned is durable. One process runs its journal transactions one at a time, as on SQLite's
// single connection; against writers in other processes the journal's read-then-write transactions
// (next seq, find-or-create a session) rely on serializable isolation, and a transaction PostgreSQL
// aborts for a conflict (40001, 40P01) is run again whole, with a short jittered backoff.
// A server lost while running is PgAvailability.ts's.
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Pg from "pg"
import type { JournalConnection } from "../JournalConnection.js"
import type { SessionDbError } from "../SessionDbError.js"
import { type Availability, makeAvailability } from "./PgAvailability.js"
import { pgCodes, scrub } from "./PgFailure.js"
import { describeTarget, type PostgresSettings } from "./PostgresSettings.js"

/** int8 (COUNT(*), identity columns) arrives as text by default; our counts fit a number. */
const int8Oid = 20
const types: Pg.CustomTypesConfig = {
  getTypeParser: (oid, format) => (oid === int8Oid ? (value: string) => Number(value) : Pg.types.getTypeParser(oid, format))
}

/** How long a connection attempt may take before start-up calls the server unreachable. */
const connectTimeout = Duration.seconds(10)

/** More journal operations than can ever be in flight at once: close takes them all. */
const maxOperations = 1_000_000

const conflictCodes = new Set(["40001", "40P01"])

const isConflict = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.failures(cause), ...Cause.defects(cause)].some((error) => pgCodes(error).some((code) => conflictCodes.has(code)))

/**
 * 2 ms doubling with jitter, never more than 100 ms apart, 30 tries: a conflict clears in the time
 * the winner commits, but several replicas writing one session at once may each lose a few rounds
 * (six replicas on one session exhausted ten tries on a loaded machine).
 */
const conflictSchedule = Schedule.intersect(
  Schedule.union(Schedule.jittered(Schedule.exponential(Duration.millis(2))), Schedule.spaced(Duration.millis(100))),
  Schedule.recurs(30)
)

export const retryConflicts = <A, E>(transaction: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  transaction.pipe(Effect.sandbox, Effect.retry({ schedule: conflictSchedule, while: isConflict }), Effect.unsandbox)

export interface PgConnection extends JournalConnection {
  /** The first round trip, made by open: fails with the driver's error when the server says no. */
  readonly probe: Effect.Effect<void, SqlError>
  /** Closed by `close` once the operations in flight are done, before the pool ends: background fibers live here. */
  readonly scope: Scope.Scope
  readonly aroundOperation: <A, E>(transaction: Effect.Effect<A, E>) => Effect.Effect<A, E | SessionDbError>
  /** Whether the server is known lost (PgAvailability.ts), for the state file. */
  readonly availability: Availability
}

/**
 * The pool and its client; nothing is connected until the first statement (`probe`). Errors of
 * idle connections (the server restarted) are logged, never thrown at the process.
 */
export const makePgConnection = (settings: PostgresSettings): Effect.Effect<PgConnection, SqlError> =>
  Effect.gen(function*() {
    const label = describeTarget(settings.target)
    const pool = new Pg.Pool({
      connectionString: Redacted.value(settings.url),
      max: settings.poolSize,
      connectionTimeoutMillis: Duration.toMillis(connectTimeout),
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      statement_timeout: Duration.toMillis(settings.statementTimeout),
      options: "-c default_transaction_isolation=serializable -c synchronous_commit=on",
      application_name: "hermes-gateway",
      types
    })
    const runtime = yield* Effect.runtime<never>()
    pool.on("error", (error) => {
      Effect.runFork(Effect.logWarning(`session database ${label}: an idle connection failed: ${scrub(error.message, settings.url)}`).pipe(
        Effect.provide(runtime)
      ))
    })
    const scope = yield* Scope.make()
    let ended = false
    const endPool = Effect.suspend(() => {
      if (ended) return Effect.void
      ended = true
      return Effect.promise(() => pool.end().catch(() => undefined))
    })
    const sql = yield* PgClient.fromPool({ acquire: Effect.succeed(pool), applicationName: "hermes-gateway", types }).pipe(
      Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make),
      Scope.extend(scope),
      Effect.tapError(() => Effect.zipRight(Scope.close(scope, Exit.void), endPool))
    )
    // Each journal operation holds one permit; close takes them all, so it waits for the operations
    // in flight (the journal refuses new ones first). Ending the pool before that would leave the
    // ones still queued for a connection waiting out connectTimeout, as an ending pool serves no one.
    const inFlight = yield* Effect.makeSemaphore(maxOperations)
    let closed = false
    const close = Effect.suspend(() => {
      if (closed) return Effect.void
      closed = true
      return inFlight.withPermits(maxOperations)(Scope.close(scope, Exit.void).pipe(Effect.zipRight(endPool)))
    })
    const probe: PgConnection["probe"] = Effect.tryPromise({
      try: () => pool.query("SELECT 1"),
      catch: (cause) => new SqlError({ cause, message: scrub(cause instanceof Error ? cause.message : String(cause), settings.url) })
    }).pipe(Effect.asVoid)
    const availability = yield* makeAvailability({ label, probe, scope })
    // One journal transaction at a time from this process, as on SQLite's single connection: the
    // journal's read-then-write transactions on a few small tables would otherwise mostly abort
    // each other under SERIALIZABLE (measured: 8 concurrent turns of different chats exhausted the
    // retries). Serializable isolation and the retry stay for writers in other processes.
    const writer = yield* Effect.makeSemaphore(1)
    const aroundOperation = <A, E>(transaction: Effect.Effect<A, E>) =>
      inFlight.withPermits(1)(availability.around(writer.withPermits(1)(retryConflicts(transaction))))
    return { sql, driver: { file: label }, close, isClosed: Effect.sync(() => closed), aroundOperation, probe, scope, availability }
  })
