// What only the PostgreSQL SessionDB has to get right: concurrent writers (serializable sessions,
// conflicts retried), a schema newer than this binary, and the start-up faults an operator can
// cause, each with its exit code and never the password in what anyone can read.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { randomBytes } from "node:crypto"
import { sessionDbStartupError } from "../../../src/lifecycle/GatewayErrors.js"
import { openPostgresSessionDb } from "../../../src/sessions/postgres/PgSessionStore.js"
import { latestSchemaVersion, pgMigrations } from "../../../src/sessions/postgres/PgMigrations.js"
import { collectingLogs, dbFile, inbound, openLife, tempHome } from "./harness.js"
import { makePgConnection } from "../../../src/sessions/postgres/PgConnection.js"
import { adminQuery, pgRawQuery, postgresSkipReason, postgresUrl, scratchDatabase, settingsFor, urlFor } from "./postgres.js"

const noPostgres = postgresUrl === undefined

/** Opens the store on `url`, its log lines into `logs`; closed with the test's scope. */
const openAt = (url: string, logs: Array<string> = []) =>
  Effect.gen(function*() {
    const home = yield* tempHome
    return yield* Effect.acquireRelease(
      openPostgresSessionDb(settingsFor(url), { deliveryLogFile: `${dbFile(home)}-delivered` }, { previousLifeCrashed: false }).pipe(
        Effect.provide(collectingLogs(logs))
      ),
      (db) => Effect.ignore(db.close)
    )
  })

/** A role of its own, dropped (after the databases it could reach) when the scope ends. */
const scratchRole = (password: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const role = `hermes_r_${randomBytes(5).toString("hex")}`
      yield* adminQuery(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`)
      return role
    }),
    (role) => adminQuery(`DROP ROLE IF EXISTS ${role}`)
  )

const expectNoSecretIn = (password: string, texts: ReadonlyArray<string>) => {
  for (const text of texts) {
    expect(text).not.toContain(password)
    expect(text).not.toContain("postgresql://")
  }
}

describe.skipIf(noPostgres)(`PostgreSQL SessionDB${noPostgres ? ` (skipped: ${postgresSkipReason})` : ""}`, () => {
  it.scopedLive("concurrent turns of one new chat from two writers make one session with every message in order, none lost", () =>
    Effect.gen(function*() {
      // Two stores on one database stand for two processes: within one, journal writes take turns
      // (PgConnection.ts); across them, serializable isolation and the retry keep the journal whole.
      const database = yield* scratchDatabase
      const writers = [yield* openAt(urlFor(database)), yield* openAt(urlFor(database))]
      const texts = Array.from({ length: 16 }, (_, i) => `m${i}`)
      const begun = yield* Effect.forEach(texts, (text, i) =>
        writers[i % 2]!.beginTurn(inbound({ text, platform: "telegram", sessionKey: "chat-7" })), {
        concurrency: "unbounded"
      })
      const db = writers[0]!
      const sessions = new Set(begun.map((b) => b.ids.sessionId))
      expect(sessions.size).toBe(1)
      const transcript = yield* db.transcript(begun[0]!.ids.sessionId)
      expect(transcript.messages.map((m) => m.seq)).toEqual(texts.map((_, i) => i + 1))
      expect(transcript.messages.map((m) => m.content).sort()).toEqual([...texts].sort())
      yield* Effect.forEach(begun, (b) => db.completeTurn(b.ids, `re ${b.ids.turnId}`), { concurrency: "unbounded" })
      expect((yield* db.transcript(begun[0]!.ids.sessionId)).messages).toHaveLength(32)
    }))

  it.scopedLive("160 concurrent turns of different chats in one gateway all commit (its writes take turns)", () =>
    Effect.gen(function*() {
      const db = yield* openAt(urlFor(yield* scratchDatabase))
      const outcomes = yield* Effect.forEach(Array.from({ length: 160 }, (_, i) => i), (i) =>
        db.beginTurn(inbound({ text: `q${i}`, sessionKey: `user-${i}` })).pipe(
          Effect.flatMap((begun) => db.completeTurn(begun.ids, `a${i}`)),
          Effect.either
        ), { concurrency: 16 })
      expect(outcomes.filter((o) => o._tag === "Left")).toEqual([])
      expect(yield* db.listSessions).toHaveLength(160)
    }))

  it.scopedLive("every connection runs serializable, with synchronous_commit on and the configured statement_timeout", () =>
    Effect.gen(function*() {
      const connection = yield* Effect.acquireRelease(
        Effect.orDie(makePgConnection(settingsFor(urlFor(yield* scratchDatabase), { statementTimeout: Duration.seconds(7) }))),
        (c) => Effect.ignore(c.close)
      )
      const [row] = yield* Effect.orDie(connection.sql<Record<string, string>>`
        SELECT current_setting('transaction_isolation') AS isolation, current_setting('synchronous_commit') AS sync,
               current_setting('statement_timeout') AS timeout, current_setting('application_name') AS app`)
      expect(row).toEqual({ isolation: "serializable", sync: "on", timeout: "7s", app: "hermes-gateway" })
    }))

  it.scopedLive("turns begun concurrently with close either commit whole or fail as closed", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const db = yield* openLife(file, "postgresql")
      const logs: Array<string> = []
      const fibers = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => Effect.either(db.beginTurn(inbound({ text: `m${i}`, sessionKey: `k${i % 4}` }))).pipe(
          Effect.provide(collectingLogs(logs)),
          Effect.fork
        )
      )
      yield* Effect.yieldNow()
      yield* db.close
      const results = yield* Effect.forEach(fibers, Fiber.join)
      const begun = results.flatMap((r) => (r._tag === "Right" ? [r.right.ids.turnId] : []))
      for (const r of results) if (r._tag === "Left") expect(r.left.reason).toBe("closed")
      // Close waited for the operations in flight: none was starved of a connection by the ending pool.
      expect(logs.filter((line) => line.includes(" lost: "))).toEqual([])
      const next = yield* openLife(file, "postgresql")
      expect((yield* next.turns()).map((t) => t.id).sort()).toEqual([...begun].sort())
    }))

  it.scopedLive("records every schema version it applied, and refuses a newer schema with both versions (exit 78)", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const first = yield* openAt(urlFor(database))
      yield* first.close
      const [versions] = yield* pgRawQuery(database, [["SELECT migration_id FROM schema_migrations ORDER BY migration_id"]])
      expect(versions!.map((r) => Number(r.migration_id))).toEqual(Object.keys(pgMigrations).map((key) => Number(key.split("_")[0])).sort((a, b) => a - b))

      yield* pgRawQuery(database, [["INSERT INTO schema_migrations (migration_id, name) VALUES (?, ?)", [7, "from_the_future"]]])
      const error = yield* Effect.flip(openAt(urlFor(database)))
      expect(error.reason).toBe("schema_newer")
      expect(error.message).toMatch(new RegExp(`schema version 7, newer than this gateway knows \\(${latestSchemaVersion}\\)`))
      expect(sessionDbStartupError(error.message, error.reason).exitCode).toBe(78)
    }))
})

describe.skipIf(noPostgres)(`PostgreSQL SessionDB start-up faults${noPostgres ? ` (skipped: ${postgresSkipReason})` : ""}`, () => {
  const password = `pw-${randomBytes(9).toString("hex")}`

  const expectNoSecret = (texts: ReadonlyArray<string>) => expectNoSecretIn(password, texts)

  it.scopedLive("a wrong password is the operator's to fix (78), named without the password", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const database = yield* scratchDatabase
      const role = yield* scratchRole(`right-${password}`)
      const error = yield* Effect.flip(openAt(urlFor(database, { user: role, password }), logs))
      expect(error.reason).toBe("refused")
      expect(error.message).toContain(`password authentication failed for user "${role}"`)
      expect(error.message).toContain("(wrong password for this user)")
      expect(sessionDbStartupError(error.message, error.reason).exitCode).toBe(78)
      expectNoSecret([error.message, ...logs])
    }))

  it.scopedLive("a database that does not exist is the operator's to fix (78)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(openAt(urlFor(`hermes_missing_${randomBytes(4).toString("hex")}`)))
      expect(error.reason).toBe("refused")
      expect(error.message).toMatch(/database "hermes_missing_[0-9a-f]+" does not exist \(the database does not exist\)$/)
      expect(sessionDbStartupError(error.message, error.reason).exitCode).toBe(78)
    }))

  it.scopedLive("a user who may not create the schema is refused (78) with what to grant", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const database = yield* scratchDatabase
      const role = yield* scratchRole(password)
      // PostgreSQL 15 lets only the database owner create in schema public; this role is not it.
      yield* adminQuery(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`, database)
      const error = yield* Effect.flip(openAt(urlFor(database, { user: role, password }), logs))
      expect(error.reason).toBe("refused")
      expect(error.message).toMatch(/permission denied for schema public/)
      expect(error.message).toContain("grant CREATE on the schema")
      expect(sessionDbStartupError(error.message, error.reason).exitCode).toBe(78)
      expectNoSecret([error.message, ...logs])
    }))
})

// Needs no server: nothing listens on port 1.
describe("PostgreSQL SessionDB start-up, server unreachable", () => {
  const password = `pw-${randomBytes(9).toString("hex")}`
  const expectNoSecret = (texts: ReadonlyArray<string>) => expectNoSecretIn(password, texts)

  it.scopedLive("an unreachable server is temporary (69) and named by host and port", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const url = `postgresql://hermes:${password}@127.0.0.1:1/sessions`
      const error = yield* Effect.flip(openAt(url, logs))
      expect(error.reason).toBe("unreachable")
      expect(error.message).toMatch(/^cannot reach PostgreSQL at 127\.0\.0\.1:1: /)
      const exit = sessionDbStartupError(error.message, error.reason)
      expect(exit.exitCode).toBe(69)
      expectNoSecret([error.message, exit.message, ...logs])
    }))
})
