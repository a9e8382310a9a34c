// Opens the PostgreSQL SessionDB for one gateway life: connect (unreachable → temporary), refuse a
// schema newer than this binary, migrate, take this replica's lease, recover the turns its own dead
// life left running, fold the home's delivery log, and hand out the same turn journal as SQLite
// (TurnJournal.ts) with every turn owned by this replica. Several replicas may share the database:
// each renews its lease and recovers the turns of replicas whose lease expired (src/replicas/).
// Two replicas writing one session never number two messages alike: (session_id, seq) is the
// primary key and every transaction is serializable, so the later of two that read the same next
// seq is aborted and run again whole (PgConnection.retryConflicts).
import * as SqlClient from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { foldDeliveryLog, recoverTurns, type RecoveryReport } from "../CrashRecovery.js"
import { makeDeliveryLog } from "../DeliveryLog.js"
import type { OpenOptions } from "../OpenOptions.js"
import { SessionDbError, type SessionDbService, type StorageHealth } from "../SessionDb.js"
import * as Stream from "effect/Stream"
import { defaultRequestResponsePlatforms, makeTurnJournal } from "../TurnJournal.js"
import { makePgConnection, type PgConnection, retryConflicts } from "./PgConnection.js"
import { acquireLease, releaseLease, renewalLoop } from "../../replicas/ReplicaLease.js"
import { recoveryLoop } from "../../replicas/ReplicaRecovery.js"
import type { ReplicaSettings } from "../../replicas/ReplicaSettings.js"
import * as Duration from "effect/Duration"
import * as Scope from "effect/Scope"
import { describeStartupFailure, pgCodes, scrub, startupProblemOf } from "./PgFailure.js"
import * as Schedule from "effect/Schedule"
import { latestSchemaVersion, migratePg, recordedSchemaVersion } from "./PgMigrations.js"
import { describeTarget, type PostgresSettings } from "./PostgresSettings.js"

export interface PgStoreOptions {
  /** The home's delivery log (`<home>/state.db-delivered`): written before the database records a delivery. */
  readonly deliveryLogFile: string
  readonly requestResponsePlatforms?: ReadonlyArray<string>
  readonly maxInterruptedLives?: number
  readonly maxContextMessages?: number
  /** Who this replica is and its lease. Absent (tests of one store): turns have no owner and every running turn found at open is recovered. */
  readonly replica?: ReplicaSettings
}

/** Pure: the refusal of a database whose schema this binary does not know. */
export const newerSchemaError = (target: string, found: number, known: number) =>
  new SessionDbError({
    message: `PostgreSQL ${target} holds session schema version ${found}, newer than this gateway knows (${known}): ` +
      `run the newer gateway, or restore a backup made for version ${known}`,
    reason: "schema_newer"
  })

/** A start-up failure as the SessionDbError the gateway (and the CLI) reports: unreachable or refused. */
export const startupError = (settings: PostgresSettings) => (error: unknown) =>
  error instanceof SessionDbError
    ? error
    : new SessionDbError({
      message: describeStartupFailure(error, settings.target, settings.url),
      reason: startupProblemOf(error) === "unreachable" ? "unreachable" : "refused"
    })

/** Every failure and defect of `effect` as one error, for startupError to classify. */
export const squashed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.catchAllCause((cause) => Effect.fail(Cause.squash(cause))))

/**
 * Codes of a migration that raced another start's (replicas starting together on an empty
 * database): the migrations table or a type created twice, a duplicate version, a serialization
 * failure. Run again, the loser finds the versions the winner recorded.
 */
const migrationRaceCodes = new Set(["23505", "42P07", "42710", "40001", "40P01"])

const isMigrationRace = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.failures(cause), ...Cause.defects(cause)].some((error) => pgCodes(error).some((code) => migrationRaceCodes.has(code)))

/** 100 ms doubling with jitter, eight tries: the winner's migration commits well within it. */
const migrationRaceSchedule = Schedule.intersect(Schedule.jittered(Schedule.exponential(Duration.millis(100))), Schedule.recurs(8))

/** Schema check and migrations; the Migrator holds a table lock, and a start that raced another's is run again. */
const prepareSchema = (connection: PgConnection, settings: PostgresSettings) =>
  Effect.gen(function*() {
    const found = yield* recordedSchemaVersion
    if (found > latestSchemaVersion) {
      return yield* newerSchemaError(describeTarget(settings.target), found, latestSchemaVersion)
    }
    return yield* migratePg
  }).pipe(
    Effect.provideService(SqlClient.SqlClient, connection.sql),
    Effect.sandbox,
    Effect.retry({ schedule: migrationRaceSchedule, while: isMigrationRace }),
    Effect.unsandbox
  )

/** How long giving the lease back may hold up the close (a lost server must not eat the close budget). */
const releaseTimeout = Duration.seconds(1)

/**
 * The lease's renewal and the recovery of expired replicas' turns, as fibers of the connection's
 * scope, which the journal's close ends after the operations in flight; then the lease is given up
 * (finalizers run in reverse: the fibers stop first, the release runs before the pool ends).
 */
const startReplica = (connection: PgConnection, replica: ReplicaSettings, maxInterruptedLives: number) =>
  Effect.gen(function*() {
    const { sql, scope } = connection
    yield* Scope.addFinalizer(scope, releaseLease(sql, replica).pipe(Effect.timeout(releaseTimeout), Effect.ignore))
    // Interruptible: the open runs inside the kernel's acquireRelease (uninterruptible), whose
    // status a forked fiber inherits; closing the scope must be able to end them.
    yield* Effect.forkIn(Effect.interruptible(renewalLoop(sql, replica, retryConflicts)), scope)
    yield* Effect.forkIn(Effect.interruptible(recoveryLoop(sql, connection.aroundOperation, replica, maxInterruptedLives)), scope)
    yield* Effect.log(`replica ${replica.id} holds its lease (lease=${Duration.format(replica.lease)} renewed every ${Duration.format(replica.renewEvery)})`)
  })

export const openPostgresSessionDb = (
  settings: PostgresSettings,
  options: PgStoreOptions,
  open: OpenOptions
): Effect.Effect<SessionDbService, SessionDbError> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const label = describeTarget(settings.target)
    const connection = yield* makePgConnection(settings).pipe(Effect.mapError(startupError(settings)))
    const opened = yield* Effect.gen(function*() {
      yield* connection.probe
      const ran = yield* prepareSchema(connection, settings)
      const crashed = open.previousLifeCrashed
      const replica = options.replica
      // The lease first: it proves no live gateway elsewhere uses this replica id, so the running
      // turns owned by it are our previous life's (the home lock proves that life over).
      if (replica !== undefined) yield* acquireLease(connection.sql, connection.aroundOperation, replica)
      // Serializable transactions beside other replicas' writes: a conflict is run again whole, as
      // for every journal operation, never taken for a refusal (exit 78, which nothing restarts).
      const recovery = yield* retryConflicts(recoverTurns(connection.sql, {
        crashed,
        maxInterruptedLives: options.maxInterruptedLives ?? 3,
        ...(replica === undefined ? {} : { which: { _tag: "owned", owner: replica.id } as const })
      }))
      const deliveriesFolded = yield* retryConflicts(foldDeliveryLog(connection.sql, options.deliveryLogFile))
      return { ran, crashed, recovery, deliveriesFolded }
    }).pipe(
      squashed,
      Effect.mapError(startupError(settings)),
      Effect.tapError(() => Effect.ignore(connection.close))
    )
    yield* Effect.log(`session db engine=postgresql database=${label}` +
      (opened.ran.length > 0 ? ` migrated=${opened.ran.map(([id]) => id).join(",")}` : ""))
    const { recovery, crashed } = opened
    const recovered = recovery.interrupted + recovery.resumePending + recovery.failed
    if (crashed || recovered > 0) {
      const report: RecoveryReport = {
        file: label,
        engine: "postgresql",
        previous_life_crashed: crashed,
        integrity: "not checked",
        moved_aside: null,
        removed_stale_lock: false,
        turns_interrupted: recovery.interrupted,
        turns_resume_pending: recovery.resumePending,
        turns_failed: recovery.failed,
        sessions_suspended: recovery.suspendedSessions,
        took_ms: (yield* Clock.currentTimeMillis) - started
      }
      const line = `session db recovery crashed=${crashed} interrupted=${report.turns_interrupted} ` +
        `resume_pending=${report.turns_resume_pending} failed=${report.turns_failed} ` +
        `suspended=${report.sessions_suspended.length} took=${report.took_ms}ms`
      yield* recovery.failed > 0 ? Effect.logWarning(line) : Effect.log(line)
      if (open.onRecovery !== undefined) yield* open.onRecovery(report)
    }
    if (opened.deliveriesFolded > 0) {
      yield* Effect.log(`session db: ${opened.deliveriesFolded} delivered answer(s) recorded from the delivery log of the last life`)
    }
    if (options.replica !== undefined) yield* startReplica(connection, options.replica, options.maxInterruptedLives ?? 3)
    const journal = makeTurnJournal(connection, {
      requestResponsePlatforms: options.requestResponsePlatforms ?? defaultRequestResponsePlatforms,
      deliveryLog: makeDeliveryLog(options.deliveryLogFile),
      ...(options.replica === undefined ? {} : { owner: options.replica.id }),
      ...(options.maxContextMessages === undefined ? {} : { maxContextMessages: options.maxContextMessages })
    })
    if (options.replica === undefined) return journal
    const shared: SessionDbService["shared"] = {
      replicaId: options.replica.id,
      health: connection.availability.changes.pipe(Stream.map((lost): StorageHealth =>
        lost === null
          ? { state: "available", since: null, problem: null }
          : { state: "unavailable", since: new Date(lost.since).toISOString(), problem: scrub(lost.why, settings.url) }
      ))
    }
    return { ...journal, shared }
  }).pipe(Effect.mapError((error) =>
    new SessionDbError({ message: scrub(error.message, settings.url), ...(error.reason === undefined ? {} : { reason: error.reason }) })
  ))
