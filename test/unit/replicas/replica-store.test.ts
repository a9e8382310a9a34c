// Replicas on one PostgreSQL database, as stores in one process (each with its own replica id and
// lease): a live replica's turns are never recovered, an expired one's are, the replica that lost
// a turn cannot end it, and two replicas writing one session never clash on message numbers.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Pg from "pg"
import type { ReplicaSettings } from "../../../src/replicas/ReplicaSettings.js"
import { recoverExpiredTurns } from "../../../src/replicas/ReplicaRecovery.js"
import { makePgConnection } from "../../../src/sessions/postgres/PgConnection.js"
import { migrations } from "../../../src/sessions/Migrations.js"
import { openPostgresSessionDb } from "../../../src/sessions/postgres/PgSessionStore.js"
import { collectingLogs, dbFile, inbound, tempHome } from "../sessions/harness.js"
import { pgRawQuery, postgresSkipReason, postgresUrl, scratchDatabase, settingsFor, urlFor } from "../sessions/postgres.js"

const noPostgres = postgresUrl === undefined

/** A lease far longer than any test: only the test's own UPDATE ends it. */
const replica = (id: string, over: Partial<ReplicaSettings> = {}): ReplicaSettings => ({
  id,
  host: "test-host",
  home: `/homes/${id}`,
  lease: Duration.minutes(10),
  renewEvery: Duration.minutes(5),
  ...over
})

const openReplica = (database: string, settings: ReplicaSettings, logs: Array<string> = []) =>
  Effect.gen(function*() {
    const home = yield* tempHome
    return yield* Effect.acquireRelease(
      openPostgresSessionDb(settingsFor(urlFor(database)), { deliveryLogFile: `${dbFile(home)}-delivered`, replica: settings }, {
        previousLifeCrashed: false
      }).pipe(Effect.provide(collectingLogs(logs))),
      (db) => Effect.ignore(db.close)
    )
  })

/** One recovery pass as replica `settings`, on a connection of its own. */
const recoveryPass = (database: string, settings: ReplicaSettings) =>
  Effect.acquireUseRelease(
    Effect.orDie(makePgConnection(settingsFor(urlFor(database)))),
    (connection) => Effect.orDie(recoverExpiredTurns(connection.sql, connection.aroundOperation, settings, 3)),
    (connection) => Effect.ignore(connection.close)
  )

const turnsOf = (database: string) =>
  pgRawQuery(database, [["SELECT id, status, owner, reason FROM turns ORDER BY rowid"]]).pipe(Effect.map(([rows]) => rows!))

describe.skipIf(noPostgres)(`replicas on one PostgreSQL database${noPostgres ? ` (skipped: ${postgresSkipReason})` : ""}`, () => {
  it.scopedLive("a live replica's running turn is never recovered; once its lease expired it is, and the loser cannot end it", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const a = yield* openReplica(database, replica("a"))
      const begun = yield* a.beginTurn(inbound({ text: "hello", sessionKey: "chat-1" }))
      expect(yield* turnsOf(database)).toEqual([{ id: begun.ids.turnId, status: "running", owner: "a", reason: null }])

      // b looks while a's lease is live: nothing happens.
      expect(yield* recoveryPass(database, replica("b"))).toEqual([])
      expect((yield* turnsOf(database))[0]!.status).toBe("running")

      // a's lease lapses (as after a stall or an outage longer than the lease): b recovers the turn.
      yield* pgRawQuery(database, [["UPDATE replica_leases SET expires_at_ms = 0 WHERE replica_id = ?", ["a"]]])
      const taken = yield* recoveryPass(database, replica("b"))
      expect(taken.map((t) => [t.owner, t.recovery.interrupted])).toEqual([["a", 1]])
      const [recovered] = yield* turnsOf(database)
      expect(recovered!.status).toBe("interrupted")
      expect(recovered!.reason).toMatch(/^replica a stopped without recording this turn's end \(its lease expired\); recovered by replica b$/)

      // a comes back to finish its turn: refused as lost, nothing written.
      const error = yield* Effect.flip(a.completeTurn(begun.ids, "late answer"))
      expect(error.message).toMatch(/lost to this replica \(a\)/)
      const transcript = yield* a.transcript(begun.ids.sessionId)
      expect(transcript.messages.map((m) => m.content)).toEqual(["hello"])
    }))

  it.scopedLive("a push turn resumed by another replica is that replica's: the first owner can neither complete nor interrupt it", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const a = yield* openReplica(database, replica("a"))
      const b = yield* openReplica(database, replica("b"))
      const begun = yield* a.beginTurn(inbound({ text: "push me", platform: "telegram", sessionKey: "chat-9" }))
      yield* pgRawQuery(database, [["UPDATE replica_leases SET expires_at_ms = 0 WHERE replica_id = ?", ["a"]]])
      yield* recoveryPass(database, replica("b"))
      yield* b.resumeTurn(begun.ids.turnId)
      expect((yield* turnsOf(database))[0]).toMatchObject({ status: "running", owner: "b" })
      const error = yield* Effect.flip(a.completeTurn(begun.ids, "stale"))
      expect(error.message).toMatch(/replica b runs it now/)
      expect((yield* Effect.flip(a.setReplyRef(begun.ids, "a's placeholder"))).message).toMatch(/replica b runs it now/)
      yield* a.interruptTurn(begun.ids, "a is stopping")
      expect((yield* turnsOf(database))[0]).toMatchObject({ status: "running", owner: "b" })
      yield* b.completeTurn(begun.ids, "fresh")
      expect((yield* b.transcript(begun.ids.sessionId)).messages.map((m) => m.content)).toEqual(["push me", "fresh"])
    }))

  it.scopedLive("at its start a replica recovers its own running turns and those without an owner, never another live replica's", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const logs: Array<string> = []
      const a = yield* openReplica(database, replica("a"))
      const b = yield* openReplica(database, replica("b"))
      const ofA = yield* a.beginTurn(inbound({ text: "from a", sessionKey: "chat-a" }))
      const ofB = yield* b.beginTurn(inbound({ text: "from b", sessionKey: "chat-b" }))
      // a's life ends without recording its turn (as if killed): its next life, same id and home, recovers it.
      yield* pgRawQuery(database, [["UPDATE turns SET status = 'running' WHERE id = ?", [ofA.ids.turnId]]])
      const again = yield* openReplica(database, replica("a"), logs)
      const turns = yield* turnsOf(database)
      expect(turns.find((t) => t.id === ofA.ids.turnId)!.status).toBe("interrupted")
      expect(turns.find((t) => t.id === ofB.ids.turnId)!.status).toBe("running")
      yield* again.close
    }))

  it.scopedLive("replicas starting together on an empty database all start: one migrates, the others find its versions", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const started = yield* Effect.forEach(["a", "b", "c", "d"], (id) => Effect.either(openReplica(database, replica(id))), {
        concurrency: "unbounded"
      })
      expect(started.filter((s) => s._tag === "Left")).toEqual([])
      const [versions] = yield* pgRawQuery(database, [["SELECT migration_id FROM schema_migrations ORDER BY migration_id"]])
      expect(versions!.map((r) => Number(r.migration_id))).toEqual(Object.keys(migrations).map((key) => Number(key.split("_")[0])).sort((a, b) => a - b))
    }))

  it.scopedLive("a second home configured with a live replica's id is refused (exit 78), naming the id", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      yield* openReplica(database, replica("a"))
      const error = yield* Effect.flip(openReplica(database, replica("a", { home: "/homes/elsewhere" })))
      expect(error.reason).toBe("refused")
      expect(error.message).toMatch(/replica id a is in use by a live gateway on test-host \(home \/homes\/a\)/)
    }))

  it.scopedLive("six replicas taking turns on one session at once: every message numbered once, in order, none lost", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const replicas = yield* Effect.forEach(["a", "b", "c", "d", "e", "f"], (id) => openReplica(database, replica(id)))
      const first = yield* replicas[0]!.beginTurn(inbound({ text: "start", sessionKey: "shared" }))
      yield* replicas[0]!.completeTurn(first.ids, "ok")
      const texts = Array.from({ length: 60 }, (_, i) => `m${i}`)
      const outcomes = yield* Effect.forEach(texts, (text, i) => {
        const db = replicas[i % replicas.length]!
        return db.beginTurn(inbound({ text, sessionKey: "shared" })).pipe(
          Effect.flatMap((begun) => db.completeTurn(begun.ids, `re ${text}`)),
          Effect.either
        )
      }, { concurrency: "unbounded" })
      expect(outcomes.filter((o) => o._tag === "Left")).toEqual([])
      const messages = (yield* replicas[1]!.transcript(first.ids.sessionId)).messages
      expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 122 }, (_, i) => i + 1))
      expect(messages.filter((m) => m.role === "user").map((m) => m.content).sort()).toEqual(["start", ...texts].sort())
      expect(messages.filter((m) => m.role === "assistant")).toHaveLength(61)
    }))

  it.scopedLive("start-up recovery that meets another writer's update is run again, not taken for a refusal (exit 78)", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      // a's last life left a turn running (its close gives the lease back; the turn stays running).
      const first = yield* openPostgresSessionDb(settingsFor(urlFor(database)), {
        deliveryLogFile: `${dbFile(yield* tempHome)}-delivered`,
        replica: replica("a")
      }, { previousLifeCrashed: false })
      const begun = yield* first.beginTurn(inbound({ text: "cut short", sessionKey: "chat-r" }))
      yield* Effect.ignore(first.close)
      // Another writer updates that turn's row in a serializable transaction and holds it...
      const writer = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const client = new Pg.Client({ connectionString: urlFor(database) })
          client.on("error", () => {})
          await client.connect()
          await client.query("BEGIN ISOLATION LEVEL SERIALIZABLE")
          await client.query("UPDATE turns SET reason = 'touched' WHERE id = $1", [begun.ids.turnId])
          return client
        }),
        (client) => Effect.promise(() => client.end().catch(() => undefined))
      )
      // ...while a starts again: its recovery reads, then waits on that row...
      const restart = yield* Effect.fork(openReplica(database, replica("a")))
      const waiting = () =>
        pgRawQuery(database, [[
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'hermes-gateway' AND wait_event_type = 'Lock'"
        ]]).pipe(Effect.map(([rows]) => Number(rows![0]!.n)))
      yield* waiting().pipe(Effect.repeat({ until: (n) => n > 0, schedule: Schedule.spaced(Duration.millis(20)) }), Effect.timeout(Duration.seconds(30)))
      // ...and the writer commits first: a's transaction fails with 40001 and is run again.
      yield* Effect.promise(() => writer.query("COMMIT"))
      const reopened = yield* Fiber.join(restart)
      expect(reopened).toBeDefined()
      const [turn] = yield* turnsOf(database)
      expect([turn!.id, turn!.status]).toEqual([begun.ids.turnId, "interrupted"])
    }))
})
