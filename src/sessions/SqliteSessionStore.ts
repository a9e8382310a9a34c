// Opens `<home>/state.db` for one gateway life: picks the engine, migrates, runs crash recovery, and
// moves a corrupt database aside (never deletes or overwrites it) before creating a fresh one.
// Also the CLI's way in (withSessionDb), used only while no gateway is alive.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as SqlClient from "@effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import { describeTightened } from "../home/HomeFiles.js"
import { openNoFollow } from "../home/SafeOpen.js"
import { foldDeliveryLog, integrityCheck, recoverTurns, type RecoveryReport, type TurnRecovery } from "./CrashRecovery.js"
import { deliveryLogFile, makeDeliveryLog } from "./DeliveryLog.js"
import { databaseFiles, guardDatabaseFiles, headerProblem, type MovedAside, moveAside, UnsafeDatabaseFiles } from "./DatabaseFiles.js"
import { migrate } from "./Migrations.js"
import { SessionDbError, type SessionDbService } from "./SessionDb.js"
import { describeFailure, isCorruption } from "./SessionDbFailure.js"
import type { OpenOptions } from "./OpenOptions.js"
import { makeSqliteClient, type SqliteConnection } from "./SqliteClient.js"
import type { EngineName, SqliteDriver } from "./SqliteDriver.js"
import { engineAvailability, type EngineChoice, openDriver, resolveEngine } from "./SqliteEngine.js"
import { defaultRequestResponsePlatforms, makeTurnJournal } from "./TurnJournal.js"

export interface SqliteStoreOptions {
  /** "auto" (default): node:sqlite when built in, else node-sqlite3-wasm. */
  readonly engine?: EngineChoice
  /** Platforms whose interrupted turns cannot be resumed (default ["http"]); every other one is push. */
  readonly requestResponsePlatforms?: ReadonlyArray<string>
  /** Interrupted lives after which a turn fails and its session is suspended (default 3). */
  readonly maxInterruptedLives?: number
  /** The most messages a turn's context holds (sessions.max_context_messages, default 200). */
  readonly maxContextMessages?: number
  /** node:sqlite busy timeout (default 5000 ms). */
  readonly busyTimeoutMs?: number
}

class OpenFailure extends Data.TaggedError("OpenFailure")<{
  readonly detail: string
  readonly corrupt: boolean
}> {}

interface Opened {
  readonly connection: SqliteConnection
  readonly integrity: string
  readonly recovery: TurnRecovery
  /** Turns the delivery log marked delivered that the database did not have yet. */
  readonly deliveriesFolded: number
}

const noRecovery: TurnRecovery = { interrupted: 0, resumePending: 0, failed: 0, suspendedSessions: [] }

const openFailure = (error: unknown) => new OpenFailure({ detail: describeFailure(error), corrupt: isCorruption(error) })

const pickEngine = (choice: EngineChoice): Effect.Effect<EngineName, SessionDbError> =>
  Effect.suspend(() => {
    const engine = resolveEngine(choice)
    const availability = engineAvailability().find((e) => e.engine === engine)
    return availability?.available === true
      ? Effect.succeed(engine)
      : Effect.fail(new SessionDbError({ message: `SQLite engine ${engine} is unavailable: ${availability?.reason}`, reason: "storage" }))
  })

/**
 * One attempt at opening: driver, client, optional integrity check, migrations, optional turn
 * recovery. Whatever fails closes the driver again and says whether the file looked corrupt.
 */
const attempt = (
  engine: EngineName,
  file: string,
  options: SqliteStoreOptions,
  steps: { readonly checkIntegrity: boolean; readonly recover: false | { readonly crashed: boolean } }
): Effect.Effect<Opened, OpenFailure> =>
  Effect.gen(function*() {
    const badHeader = yield* Effect.try({ try: () => headerProblem(file), catch: openFailure })
    if (badHeader !== undefined) return yield* new OpenFailure({ detail: badHeader, corrupt: true })
    const driver = yield* openDriver(engine, file, { busyTimeoutMs: options.busyTimeoutMs ?? 5000 }).pipe(
      Effect.mapError(openFailure)
    )
    const connection = yield* makeSqliteClient(driver)
    const { sql } = connection
    return yield* Effect.gen(function*() {
      const integrity = steps.checkIntegrity ? yield* integrityCheck(sql) : "not checked"
      if (steps.checkIntegrity && integrity !== "ok") {
        return yield* new OpenFailure({ detail: `integrity_check: ${integrity}`, corrupt: true })
      }
      yield* migrate.pipe(Effect.provideService(SqlClient.SqlClient, sql))
      const recovery = steps.recover === false
        ? noRecovery
        : yield* recoverTurns(sql, { crashed: steps.recover.crashed, maxInterruptedLives: options.maxInterruptedLives ?? 3 })
      const deliveriesFolded = steps.recover === false ? 0 : yield* foldDeliveryLog(sql, deliveryLogFile(file))
      return { connection, integrity, recovery, deliveriesFolded }
    }).pipe(
      Effect.catchAllCause((cause) => {
        const error = Cause.squash(cause)
        return Effect.fail(error instanceof OpenFailure ? error : openFailure(error))
      }),
      Effect.tapError(() => Effect.sync(() => {
        try {
          driver.close()
        } catch {
          // The failure being reported matters more than a second one while closing.
        }
      }))
    )
  })

/**
 * Precondition: the caller holds the home's single-instance lock (the kernel opens the database
 * right after taking it). That is what makes a wasm `.lock` directory stale and every `running`
 * turn orphaned.
 */
export const openSqliteSessionDb = (
  file: string,
  options: SqliteStoreOptions,
  open: OpenOptions
): Effect.Effect<SessionDbService, SessionDbError> => Effect.map(openSqliteJournal(file, options, open), (opened) => opened.db)

/** How the SessionDB worker opens the journal it serves (SessionDbWorker.ts). */
export interface JournalOpening {
  /** False when a respawned worker reopens under a live gateway: its running turns are not orphans. */
  readonly recoverTurns: boolean
  /** False when the caller keeps the delivery log itself (the gateway's thread, before the round trip). */
  readonly deliveryLog: boolean
}

/** The journal and the client under it, for the worker's group commits (one transaction, many calls). */
export const openSqliteJournal = (
  file: string,
  options: SqliteStoreOptions,
  open: OpenOptions,
  opening: JournalOpening = { recoverTurns: true, deliveryLog: true }
): Effect.Effect<{ readonly db: SessionDbService; readonly sql: SqlClient.SqlClient; readonly driver: SqliteDriver }, SessionDbError> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const engine = yield* pickEngine(options.engine ?? "auto")
    const crashed = open.previousLifeCrashed
    yield* prepareFile(file)
    const staleLock = engine === "node-sqlite3-wasm" && fs.existsSync(databaseFiles(file).lockDir)

    let movedAside: (MovedAside & { readonly reason: string }) | null = null
    const recover = opening.recoverTurns ? { crashed } : false
    const first = yield* Effect.either(attempt(engine, file, options, { checkIntegrity: crashed, recover }))
    let opened: Opened
    if (first._tag === "Right") {
      opened = first.right
    } else if (first.left.corrupt) {
      const reason = first.left.detail
      const now = yield* Clock.currentTimeMillis
      const moved = yield* Effect.try({
        try: () => moveAside(file, now),
        catch: (error) =>
          new SessionDbError({
            message: `session database ${file} is corrupt (${reason}) and could not be moved aside: ${describeFailure(error)}; ` +
              `it was left untouched`,
            reason: "corrupt"
          })
      })
      movedAside = { ...moved, reason }
      yield* Effect.logError(
        `session database ${file} is corrupt (${reason}): moved aside to ${moved.movedTo} ` +
          `(${moved.files.length} file(s)); starting a fresh database`
      )
      yield* prepareFile(file)
      opened = yield* attempt(engine, file, options, { checkIntegrity: false, recover: opening.recoverTurns ? { crashed: false } : false }).pipe(
        Effect.mapError((failure) =>
          new SessionDbError({ message: `cannot create a fresh session database ${file}: ${failure.detail}`, reason: "storage" })
        )
      )
    } else {
      return yield* new SessionDbError({ message: `cannot open session database ${file}: ${first.left.detail}`, reason: "storage" })
    }

    yield* Effect.log(`session db engine=${engine} path=${file}`)
    if (staleLock) yield* Effect.logWarning(`session db removed a stale lock directory ${databaseFiles(file).lockDir} left by a killed process`)
    const { recovery } = opened
    const recovered = recovery.interrupted + recovery.resumePending + recovery.failed
    if (crashed || movedAside !== null || recovered > 0 || staleLock) {
      const report: RecoveryReport = {
        file,
        engine,
        previous_life_crashed: crashed,
        integrity: movedAside !== null ? `failed: ${movedAside.reason}` : opened.integrity,
        moved_aside: movedAside === null ? null : { reason: movedAside.reason, moved_to: movedAside.movedTo, files: movedAside.files },
        removed_stale_lock: staleLock,
        turns_interrupted: recovery.interrupted,
        turns_resume_pending: recovery.resumePending,
        turns_failed: recovery.failed,
        sessions_suspended: recovery.suspendedSessions,
        took_ms: (yield* Clock.currentTimeMillis) - started
      }
      const line = `session db recovery crashed=${crashed} integrity=${JSON.stringify(report.integrity)} ` +
        `interrupted=${report.turns_interrupted} resume_pending=${report.turns_resume_pending} failed=${report.turns_failed} ` +
        `suspended=${report.sessions_suspended.length} took=${report.took_ms}ms`
      yield* recovery.failed > 0 || movedAside !== null ? Effect.logWarning(line) : Effect.log(line)
      if (open.onRecovery !== undefined) yield* open.onRecovery(report)
    }
    if (opened.deliveriesFolded > 0) {
      yield* Effect.log(`session db: ${opened.deliveriesFolded} delivered answer(s) recorded from the delivery log of the last life`)
    }
    const db = makeTurnJournal(opened.connection, {
      requestResponsePlatforms: options.requestResponsePlatforms ?? defaultRequestResponsePlatforms,
      ...(opening.deliveryLog ? { deliveryLog: makeDeliveryLog(deliveryLogFile(file)) } : {}),
      ...(options.maxContextMessages === undefined ? {} : { maxContextMessages: options.maxContextMessages })
    })
    return { db, sql: opened.connection.sql, driver: opened.connection.driver }
  })

/**
 * Before SQLite sees the path (both engines follow links): the database's files must be real files
 * of ours, and their modes lose group/other bits (logged). Fails with reason "unsafe" naming them.
 */
const guardFiles = (file: string) =>
  Effect.try({
    try: () => guardDatabaseFiles(file),
    catch: (error) =>
      error instanceof UnsafeDatabaseFiles
        ? new SessionDbError({ message: `session database ${file} is not safe to open: ${error.message}`, reason: "unsafe" })
        : new SessionDbError({ message: `cannot examine session database ${file}: ${describeFailure(error)}`, reason: "storage" })
  }).pipe(Effect.tap((tightened) => Effect.forEach(tightened, (t) => Effect.logWarning(describeTightened(t)), { discard: true })))

/** The home exists (0700); the database file is created 0600 before SQLite opens it, as conversations are private. */
const prepareFile = (file: string) =>
  guardFiles(file).pipe(Effect.zipRight(Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
      fs.closeSync(openNoFollow(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT))
    },
    catch: (error) => new SessionDbError({ message: `cannot create session database ${file}: ${describeFailure(error)}`, reason: "storage" })
  })))

/**
 * For `hermes gateway sessions` while no gateway is alive (the caller checked, and should hold the
 * home's instance lock for the duration). Read-only-ish: it migrates an older schema but neither
 * recovers turns (the next gateway does, knowing whether its predecessor crashed) nor moves a
 * corrupt file aside; it never creates the database.
 */
export const withSessionDb = <A, E, R>(
  file: string,
  use: (db: SessionDbService) => Effect.Effect<A, E, R>,
  options: SqliteStoreOptions = {}
): Effect.Effect<A, E | SessionDbError, R> =>
  Effect.acquireUseRelease(
    Effect.gen(function*() {
      // lstat, not exists: a dangling link at the name is refused below, not reported as missing.
      if (!fs.existsSync(file) && !isLink(file)) {
        return yield* new SessionDbError({ message: `no session database at ${file}: no turn has been recorded in this home yet`, reason: "missing" })
      }
      yield* guardFiles(file)
      const engine = yield* pickEngine(options.engine ?? "auto")
      const opened = yield* attempt(engine, file, options, { checkIntegrity: false, recover: false }).pipe(
        Effect.mapError((failure) =>
          new SessionDbError({
            message: failure.corrupt
              ? `session database ${file} is corrupt (${failure.detail}); the gateway moves it aside at its next start`
              : `cannot open session database ${file}: ${failure.detail}`,
            reason: failure.corrupt ? "corrupt" : "storage"
          })
        )
      )
      yield* Effect.logDebug(`session db engine=${engine} path=${file}`)
      return makeTurnJournal(opened.connection, {
        requestResponsePlatforms: options.requestResponsePlatforms ?? defaultRequestResponsePlatforms
      })
    }),
    use,
    (db) => db.close.pipe(Effect.catchAll((error) => Effect.logWarning(error.message)))
  )

const isLink = (file: string): boolean => {
  try {
    return fs.lstatSync(file).isSymbolicLink()
  } catch {
    return false
  }
}
