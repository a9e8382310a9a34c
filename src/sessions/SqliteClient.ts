// An @effect/sql SqlClient over one synchronous SqliteDriver, so repositories use `sql` templates,
// `sql.withTransaction` and the Migrator whatever the engine. One connection behind a semaphore:
// a statement or a whole transaction holds it, which is also how close waits for a write in flight.
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlConnection from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { describeSqliteError, type SqliteDriver, type SqlRow, toSqlValue } from "./SqliteDriver.js"

export interface SqliteConnection {
  readonly sql: SqlClient.SqlClient
  readonly driver: SqliteDriver
  /** Waits for the statement or transaction in flight, then closes. Idempotent; later statements fail. */
  readonly close: Effect.Effect<void, SqlError>
  readonly isClosed: Effect.Effect<boolean>
}

/** What an engine's thrown error becomes: an SqlError naming the engine and the statement. */
export const engineError = (driver: SqliteDriver, sql: string, cause: unknown): SqlError =>
  new SqlError({ cause, message: `${driver.engine}: ${describeSqliteError(cause)} (in: ${sql.slice(0, 120)})` })

export const makeSqliteClient = (driver: SqliteDriver): Effect.Effect<SqliteConnection> =>
  Effect.gen(function*() {
    const semaphore = yield* Effect.makeSemaphore(1)
    let closed = false

    const run = (sql: string, params: ReadonlyArray<unknown>) =>
      Effect.try({
        try: () => driver.query(sql, params.map(toSqlValue)),
        catch: (cause) => engineError(driver, sql, cause)
      })

    const execute = (
      sql: string,
      params: ReadonlyArray<unknown>,
      transformRows: (<A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
    ): Effect.Effect<ReadonlyArray<SqlRow>, SqlError> =>
      transformRows === undefined ? run(sql, params) : Effect.map(run(sql, params), (rows) => transformRows(rows))

    const connection: SqlConnection.Connection = {
      execute,
      executeRaw: run,
      executeUnprepared: execute,
      executeValues: (sql, params) => Effect.map(run(sql, params), (rows) => rows.map((row) => Object.values(row))),
      executeStream: (sql, params, transformRows) =>
        Stream.fromIterableEffect(execute(sql, params, transformRows))
    }

    // The permit is held for the scope @effect/sql gives the connection: one statement, or a whole
    // transaction (begin .. commit). Checking `closed` after taking it makes close a clean cut.
    const acquirer: SqlConnection.Connection.Acquirer = Effect.uninterruptibleMask((restore) =>
      restore(semaphore.take(1)).pipe(
        Effect.zipRight(Effect.addFinalizer(() => semaphore.release(1))),
        Effect.zipRight(Effect.suspend(() =>
          closed
            ? Effect.fail(new SqlError({ message: `the database ${driver.file} is closed` }))
            : Effect.succeed(connection)
        ))
      )
    )

    const sql = yield* SqlClient.make({
      acquirer,
      transactionAcquirer: acquirer,
      compiler: Statement.makeCompilerSqlite(),
      // IMMEDIATE takes the write lock at BEGIN: a transaction never fails half-way on an upgrade.
      beginTransaction: "BEGIN IMMEDIATE",
      spanAttributes: [["db.system", "sqlite"], ["db.sqlite.engine", driver.engine]]
    }).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make))

    const close = semaphore.withPermits(1)(Effect.suspend(() => {
      if (closed) return Effect.void
      closed = true
      return Effect.try({
        try: () => driver.close(),
        catch: (cause) => new SqlError({ cause, message: `cannot close ${driver.file}: ${describeSqliteError(cause)}` })
      })
    }))

    return { sql, driver, close, isClosed: Effect.sync(() => closed) }
  })

/** The same client as a scoped Layer: closed (after any write in flight) when the scope ends. */
export const sqliteClientLayer = (driver: SqliteDriver): Layer.Layer<SqlClient.SqlClient> =>
  Layer.scoped(
    SqlClient.SqlClient,
    Effect.acquireRelease(makeSqliteClient(driver), (connection) => Effect.ignoreLogged(connection.close)).pipe(
      Effect.map((connection) => connection.sql)
    )
  )
