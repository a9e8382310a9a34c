// What is committed stays committed: across close and reopen, across engines, with migrations
// applied exactly once, and with close waiting for the write in flight before anything is refused.
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import { migrate, migrations } from "../../../src/sessions/Migrations.js"
import { SessionStore } from "../../../src/sessions/SessionStore.js"
import { makeSqliteClient, sqliteClientLayer } from "../../../src/sessions/SqliteClient.js"
import { openDriver } from "../../../src/sessions/SqliteEngine.js"
import type { EngineName } from "../../../src/sessions/SqliteDriver.js"
import { makeTurnJournal } from "../../../src/sessions/TurnJournal.js"
import { collectingLogs, dbFile, engineCases, inbound, openLife, tempHome } from "./harness.js"

/** A raw connection to the file, below the journal, for looking at what is really stored. */
const rawConnection = (engine: EngineName, file: string) =>
  Effect.acquireRelease(
    openDriver(engine, file, { busyTimeoutMs: 1000 }).pipe(Effect.orDie, Effect.flatMap(makeSqliteClient)),
    (connection) => Effect.ignore(connection.close)
  )

describe.each(engineCases)("durability on $label", ({ available, engine }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("turns written in one life are read back unchanged in the next", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const first = yield* openLife(file, engine)
      const a = yield* first.beginTurn(inbound({ text: "hello", sessionKey: "k", history: [{ role: "system", content: "s" }] }))
      yield* first.completeTurn(a.ids, "hi")
      const b = yield* first.beginTurn(inbound({ text: "second", sessionKey: "k" }))
      yield* first.failTurn(b.ids, "agent unavailable")
      const before = yield* first.transcript(a.ids.sessionId)
      const turnsBefore = yield* first.turns()
      yield* first.close

      const second = yield* openLife(file, engine)
      expect(yield* second.transcript(a.ids.sessionId)).toEqual(before)
      expect(yield* second.turns()).toEqual(turnsBefore)
      expect(before.messages.map((m) => m.content)).toEqual(["s", "hello", "hi", "second"])
      const next = yield* second.beginTurn(inbound({ text: "third", sessionKey: "k" }))
      expect(next.context.map((m) => m.content)).toEqual(["s", "hello", "hi", "second", "third"])
      expect(b.ids.sessionId).toBe(a.ids.sessionId)
    }))

  it.scopedLive("migrations run once and are a no-op on every later open", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      for (let life = 0; life < 3; life++) {
        const db = yield* openLife(file, engine)
        yield* db.beginTurn(inbound({ text: `life ${life}`, sessionKey: "k" }))
        yield* db.close
      }
      const raw = yield* rawConnection(engine, file)
      const applied = yield* raw.sql<{ migration_id: number }>`SELECT migration_id FROM schema_migrations`
      expect(applied.map((r) => Number(r.migration_id)).sort((a, b) => a - b)).toEqual(
        Object.keys(migrations).map((key) => Number(key.split("_")[0])).sort((a, b) => a - b)
      )
      expect(yield* migrate.pipe(Effect.provideService(SqlClient.SqlClient, raw.sql))).toEqual([])
      const messages = yield* raw.sql<{ n: number }>`SELECT COUNT(*) AS n FROM messages`
      expect(Number(messages[0]!.n)).toBe(3)
    }))

  it.scopedLive("the file is private, in WAL mode with synchronous=FULL", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const db = yield* openLife(file, engine)
      yield* db.beginTurn(inbound({ text: "x" }))
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      yield* db.close
      const raw = yield* rawConnection(engine, file)
      const mode = yield* raw.sql<{ journal_mode: string }>`PRAGMA journal_mode`
      const sync = yield* raw.sql<{ synchronous: number }>`PRAGMA synchronous`
      expect(mode[0]!.journal_mode).toBe("wal")
      expect(Number(sync[0]!.synchronous)).toBe(2)
    }))

  it.scopedLive("close waits for the transaction in flight, then every call fails with SessionDbError", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      // Build the journal by hand so the test can hold a write transaction open on its connection.
      const connection = yield* openDriver(engine, file, { busyTimeoutMs: 1000 }).pipe(Effect.orDie, Effect.flatMap(makeSqliteClient))
      yield* migrate.pipe(Effect.provideService(SqlClient.SqlClient, connection.sql), Effect.orDie)
      const journal = makeTurnJournal(connection, { requestResponsePlatforms: ["http"] })
      const { sql } = connection
      const events: Array<string> = []
      const inTransaction = yield* Deferred.make<void>()
      const writer = yield* sql.withTransaction(Effect.gen(function*() {
        yield* sql`INSERT INTO sessions (id, platform, chat_key, user, created_at, updated_at, status)
                   VALUES ('slow', 'http', 'slow', NULL, 'a', 'a', 'active')`
        yield* Deferred.succeed(inTransaction, undefined)
        yield* Effect.sleep("150 millis")
        yield* sql`INSERT INTO messages (session_id, seq, role, content, turn_id, created_at)
                   VALUES ('slow', 1, 'user', 'written while closing', NULL, 'a')`
        events.push("commit")
      })).pipe(Effect.fork)
      yield* Deferred.await(inTransaction)
      const closing = yield* journal.close.pipe(Effect.tap(() => Effect.sync(() => events.push("closed"))), Effect.fork)
      yield* Effect.sleep("50 millis")
      expect(events).toEqual([])
      yield* Fiber.join(writer)
      yield* Fiber.join(closing)
      expect(events).toEqual(["commit", "closed"])

      for (const call of [
        journal.beginTurn(inbound({ text: "too late" })),
        journal.listSessions,
        journal.transcript("slow"),
        journal.completeTurn({ turnId: "t", sessionId: "slow" }, "x")
      ]) {
        const error = yield* Effect.flip(call)
        expect(error._tag).toBe("SessionDbError")
        expect(error.reason).toBe("closed")
        expect(error.message).toContain(file)
      }
      yield* journal.close // idempotent

      const next = yield* openLife(file, engine)
      const t = yield* next.transcript("slow")
      expect(t.messages.map((m) => m.content)).toEqual(["written while closing"])
    }))

  it.scopedLive("turns begun concurrently with close either commit whole or fail as closed", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const db = yield* openLife(file, engine)
      const fibers = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => Effect.either(db.beginTurn(inbound({ text: `m${i}`, sessionKey: `k${i % 4}` }))).pipe(Effect.fork)
      )
      yield* Effect.yieldNow()
      yield* db.close
      const results = yield* Effect.forEach(fibers, Fiber.join)
      const begun = results.flatMap((r) => (r._tag === "Right" ? [r.right.ids.turnId] : []))
      for (const r of results) if (r._tag === "Left") expect(r.left.reason).toBe("closed")
      const next = yield* openLife(file, engine)
      expect((yield* next.turns()).map((t) => t.id).sort()).toEqual([...begun].sort())
    }))

  it.scopedLive("SessionStore.sqlite picks the engine and logs it with the path", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const logs: Array<string> = []
      const db = yield* Effect.gen(function*() {
        const store = yield* SessionStore
        return yield* store.open({ previousLifeCrashed: false })
      }).pipe(Effect.provide(Layer.merge(SessionStore.sqlite(file, { engine }), collectingLogs(logs))))
      yield* db.beginTurn(inbound({ text: "x" }))
      yield* db.close
      expect(logs).toContain(`INFO session db engine=${engine} path=${file}`)
    }))

  it.scopedLive("the SqlClient layer serves sql templates and transactions, and rolls back on failure", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const driver = yield* openDriver(engine, file, { busyTimeoutMs: 1000 }).pipe(Effect.orDie)
      const counts = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE t (n INTEGER NOT NULL)`
        yield* sql.withTransaction(sql`INSERT INTO t ${sql.insert([{ n: 1 }, { n: 2 }])}`)
        yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO t ${sql.insert({ n: 3 })}`
          return yield* Effect.fail("abort")
        })))
        return yield* sql<{ n: number }>`SELECT n FROM t ORDER BY n`
      }).pipe(Effect.provide(sqliteClientLayer(driver)))
      expect(counts.map((r) => Number(r.n))).toEqual([1, 2])
    }))
})

describe("across engines", () => {
  const both = engineCases.every((c) => c.available)
  it.scopedLive.skipIf(!both)("a database written by one engine is read by the other (Node with node:sqlite only)", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const wasm = yield* openLife(file, "node-sqlite3-wasm")
      const a = yield* wasm.beginTurn(inbound({ text: "from wasm", sessionKey: "k" }))
      yield* wasm.completeTurn(a.ids, "reply")
      yield* wasm.close
      const native = yield* openLife(file, "node:sqlite")
      const b = yield* native.beginTurn(inbound({ text: "from node:sqlite", sessionKey: "k" }))
      expect(b.context.map((m) => m.content)).toEqual(["from wasm", "reply", "from node:sqlite"])
      yield* native.close
      const back = yield* openLife(file, "node-sqlite3-wasm")
      expect((yield* back.transcript(a.ids.sessionId)).messages).toHaveLength(3)
    }))
})
