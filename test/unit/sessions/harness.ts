// Shared by the SessionDB tests: the engines this Node can run (each test file runs once per
// engine), a temporary home per test, and a way to read what the store logged.
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as Scope from "effect/Scope"
import { type SessionDbService, type SessionInbound } from "../../../src/sessions/SessionDb.js"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"
import type { OpenOptions } from "../../../src/sessions/OpenOptions.js"
import type { EngineName } from "../../../src/sessions/SqliteDriver.js"
import { migrations } from "../../../src/sessions/Migrations.js"
import { makeSqliteClient } from "../../../src/sessions/SqliteClient.js"
import type { SqlRow, SqlValue } from "../../../src/sessions/SqliteDriver.js"
import { engineAvailability, openDriver } from "../../../src/sessions/SqliteEngine.js"
import { openSqliteSessionDb, type SqliteStoreOptions } from "../../../src/sessions/SqliteSessionStore.js"
import { deliveryLogFile } from "../../../src/sessions/DeliveryLog.js"
import { openPostgresSessionDb } from "../../../src/sessions/postgres/PgSessionStore.js"
import { databaseForHome, knownDatabaseOfHome, pgRawQuery, postgresSkipReason, postgresUrl, settingsFor, urlFor } from "./postgres.js"
import { openWorkerSessionDb } from "../../../src/sessions/worker/WorkerSessionDb.js"
import { testWorkerEntry } from "./workerBundle.js"

/**
 * HERMES_TEST_SESSIONDB=worker runs every suite that opens the store through openLife against the
 * gateway's worker-backed SessionDB (a worker thread owns the connection) instead of the in-process
 * one; .ci/run runs test/unit/sessions both ways. journalCases always has both.
 */
export const viaWorker = process.env["HERMES_TEST_SESSIONDB"] === "worker"

const openStore = (inWorker: boolean): typeof openSqliteSessionDb =>
  inWorker ? (file, options, open) => openWorkerSessionDb(file, { entry: testWorkerEntry(), ...options }, open) : openSqliteSessionDb

export interface EngineCase {
  readonly engine: EngineName
  readonly available: boolean
  readonly label: string
}

/** Both engines, each labelled; an engine this Node lacks is listed with the reason it is skipped. */
export const engineCases: ReadonlyArray<EngineCase> = engineAvailability().map((e) => ({
  engine: e.engine,
  available: e.available,
  label: (e.available ? e.engine : `${e.engine} (skipped: ${e.reason}; .ci/run runs these under Node 24)`) +
    (viaWorker ? " in a worker thread" : "")
}))

/** A SessionDB engine the journal suites run on: each SQLite engine, and PostgreSQL. */
export type StoreEngine = EngineName | "postgresql"

export interface StoreCase {
  readonly engine: StoreEngine
  readonly available: boolean
  readonly label: string
}

export const postgresCase: StoreCase = {
  engine: "postgresql",
  available: postgresUrl !== undefined,
  label: postgresUrl !== undefined ? "postgresql" : `postgresql (skipped: ${postgresSkipReason})`
}

/** The SQLite engines and PostgreSQL: for suites that only talk to the SessionDbService. */
export const storeCases: ReadonlyArray<StoreCase> = [...engineCases, postgresCase]

/** A fresh directory standing in for the home, removed when the test's scope closes. */
export const tempHome = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "hermes-sessiondb-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

export const dbFile = (home: string) => path.join(home, "state.db")

/**
 * Opens the store for one "life"; closed when the scope ends unless the test closed it first.
 * What the open logs goes to `logs` (or nowhere), not to the test output.
 */
export const openLife = (
  file: string,
  engine: StoreEngine,
  open: OpenOptions = { previousLifeCrashed: false },
  options: SqliteStoreOptions = {},
  logs: Array<string> = [],
  inWorker: boolean = viaWorker
) =>
  Effect.acquireRelease(
    (engine === "postgresql" ? openPostgresLife(file, open, options) : openStore(inWorker)(file, { engine, ...options }, open)).pipe(
      Effect.provide(collectingLogs(logs))
    ),
    (db) => Effect.ignore(db.close)
  )

/** PostgreSQL: the home `file` lives in names a scratch database of its own (made by its first life). */
const openPostgresLife = (file: string, open: OpenOptions, options: SqliteStoreOptions) =>
  Effect.flatMap(databaseForHome(file), (database) =>
    openPostgresSessionDb(settingsFor(urlFor(database)), {
      deliveryLogFile: deliveryLogFile(file),
      ...(options.requestResponsePlatforms === undefined ? {} : { requestResponsePlatforms: options.requestResponsePlatforms }),
      ...(options.maxInterruptedLives === undefined ? {} : { maxInterruptedLives: options.maxInterruptedLives }),
      ...(options.maxContextMessages === undefined ? {} : { maxContextMessages: options.maxContextMessages })
    }, open))

export const inbound = (over: Partial<SessionInbound> & Pick<SessionInbound, "text">): SessionInbound => ({
  platform: "http",
  sessionKey: undefined,
  history: [],
  ...over
})

/** Runs `effect` with its log lines collected into `lines` (message text only). */
export const collectingLogs = (lines: Array<string>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
    })
  )

/**
 * Runs statements on the database file directly, outside the store (which must be closed: the
 * wasm engine holds an exclusive lock). For what the SessionDbService does not show, e.g. columns.
 */
export const rawQuery = (
  file: string,
  engine: StoreEngine,
  statements: ReadonlyArray<readonly [sql: string, params?: ReadonlyArray<SqlValue>]>
): Effect.Effect<ReadonlyArray<ReadonlyArray<SqlRow>>> =>
  engine === "postgresql"
    ? pgRawQuery(knownDatabaseOfHome(file), statements) as Effect.Effect<ReadonlyArray<ReadonlyArray<SqlRow>>>
    : Effect.acquireUseRelease(
    Effect.orDie(openDriver(engine, file, { busyTimeoutMs: 1000 })),
    (driver) => Effect.sync(() => statements.map(([sql, params]) => driver.query(sql, params ?? []).map((row) => ({ ...row })))),
    (driver) => Effect.sync(() => driver.close())
  )

/** A database as the first release left it: only migration 1 applied, then `statements` run. */
export const createV1Database = (
  file: string,
  engine: EngineName,
  statements: ReadonlyArray<readonly [sql: string, params?: ReadonlyArray<SqlValue>]>
) =>
  Effect.gen(function*() {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const driver = yield* Effect.orDie(openDriver(engine, file, { busyTimeoutMs: 1000 }))
    const connection = yield* makeSqliteClient(driver)
    const v1 = Object.fromEntries(Object.entries(migrations).filter(([key]) => key.startsWith("1_")))
    const ran = yield* Migrator.make({})({ loader: Migrator.fromRecord(v1), table: "schema_migrations" }).pipe(
      Effect.provideService(SqlClient.SqlClient, connection.sql),
      Effect.orDie
    )
    for (const [sql, params] of statements) driver.query(sql, params ?? [])
    yield* Effect.orDie(connection.close)
    return ran
  })

/** The journal a behaviour must hold on: the in-memory one, and each durable engine. */
export interface JournalCase {
  readonly label: string
  readonly available: boolean
  readonly open: Effect.Effect<SessionDbService, never, Scope.Scope>
}

export const journalCases: ReadonlyArray<JournalCase> = [
  { label: "in-memory journal", available: true, open: Effect.sync(() => memorySessionDb(emptyJournal())) },
  ...storeCases.map((c): JournalCase => ({
    label: c.label,
    available: c.available,
    open: Effect.orDie(Effect.flatMap(tempHome, (home) => openLife(dbFile(home), c.engine, undefined, undefined, undefined, false)))
  })),
  ...engineCases.map((c): JournalCase => ({
    label: `${c.label.replace(/ in a worker thread$/, "")} in a worker thread`,
    available: c.available,
    open: Effect.orDie(Effect.flatMap(tempHome, (home) => openLife(dbFile(home), c.engine, undefined, undefined, undefined, true)))
  }))
]
