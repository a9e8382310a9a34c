// The PostgreSQL side of the SessionDB tests: the server .ci/run starts (POSTGRES_TEST_URL,
// a role that may create databases), and a fresh database per test, dropped when the test's scope
// ends, whether it passed or not. Without the variable the PostgreSQL cases skip, saying why.
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Pg from "pg"
import { randomBytes } from "node:crypto"
import type * as Scope from "effect/Scope"
import { type PostgresSettings, parseTarget } from "../../../src/sessions/postgres/PostgresSettings.js"

export const postgresUrl: string | undefined = process.env.POSTGRES_TEST_URL?.trim() || undefined

export const postgresSkipReason = "POSTGRES_TEST_URL is unset; .ci/run starts a PostgreSQL and sets it"

/** The URL with another database (and, optionally, other credentials). */
export const urlFor = (database: string, over: { readonly user?: string; readonly password?: string } = {}): string => {
  const url = new URL(postgresUrl ?? "postgresql://nobody@127.0.0.1:1/none")
  url.pathname = `/${database}`
  if (over.user !== undefined) url.username = encodeURIComponent(over.user)
  if (over.password !== undefined) url.password = encodeURIComponent(over.password)
  return url.toString()
}

export const settingsFor = (url: string, over: Partial<Omit<PostgresSettings, "url" | "target">> = {}): PostgresSettings => ({
  url: Redacted.make(url),
  target: Either.getOrThrow(parseTarget(url)),
  poolSize: 4,
  statementTimeout: Duration.seconds(30),
  ...over
})

/** A short-lived pool; an idle connection the server drops (DROP DATABASE ... FORCE) is no test failure. */
const testPool = (connectionString: string | undefined) => {
  const pool = new Pg.Pool({ connectionString, max: 1 })
  pool.on("error", () => {})
  return pool
}

/** Runs statements as the test role on `database` (default: the one in the URL). */
export const adminQuery = (sql: string, database?: string): Effect.Effect<ReadonlyArray<Record<string, unknown>>> =>
  Effect.acquireUseRelease(
    Effect.sync(() => testPool(database === undefined ? postgresUrl : urlFor(database))),
    (pool) => Effect.promise(() => pool.query(sql)).pipe(Effect.map((result) => result.rows)),
    (pool) => Effect.promise(() => pool.end())
  )

/** A new empty database, dropped (connections forced off) when the scope ends. */
export const scratchDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.gen(function*() {
    const name = `hermes_t_${randomBytes(6).toString("hex")}`
    yield* adminQuery(`CREATE DATABASE ${name}`)
    return name
  }),
  (name) => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
)

/** One database per home: the first life in a home creates it, later lives reopen it. */
const databaseOfHome = new Map<string, string>()

export const databaseForHome = (key: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.suspend(() => {
    const known = databaseOfHome.get(key)
    if (known !== undefined) return Effect.succeed(known)
    return scratchDatabase.pipe(
      Effect.tap((name) => Effect.sync(() => databaseOfHome.set(key, name))),
      Effect.tap(() => Effect.addFinalizer(() => Effect.sync(() => databaseOfHome.delete(key))))
    )
  })

/** The database a home's first life made, for statements run beside the store. */
export const knownDatabaseOfHome = (key: string): string => {
  const name = databaseOfHome.get(key)
  if (name === undefined) throw new Error(`no PostgreSQL database was opened for ${key} yet`)
  return name
}

/** Statements with SQLite's `?` placeholders, on PostgreSQL ($1, $2, ...); counts as numbers. */
export const pgRawQuery = (
  database: string,
  statements: ReadonlyArray<readonly [sql: string, params?: ReadonlyArray<unknown>]>
): Effect.Effect<ReadonlyArray<ReadonlyArray<Record<string, unknown>>>> =>
  Effect.acquireUseRelease(
    Effect.sync(() => testPool(urlFor(database))),
    (pool) =>
      Effect.forEach(statements, ([sql, params]) => {
        let n = 0
        const text = sql.replace(/\?/g, () => `$${++n}`)
        return Effect.promise(() => pool.query(text, params ?? [])).pipe(
          Effect.map((result) =>
            result.rows.map((row) =>
              Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "string" && /^count|^n$/.test(k) ? Number(v) : v]))
            )
          )
        )
      }),
    (pool) => Effect.promise(() => pool.end())
  )
