// Duplicate messages (externalId), delivered answers and the backlog a new life acts on, on the
// in-memory journal and on each SQLite engine; then what only the durable journal has: turns left
// resume_pending by an earlier life, their expiry, the restart-loop breaker's notice, migration 2.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Effect from "effect/Effect"
import type { RecoveryReport } from "../../../src/sessions/CrashRecovery.js"
import { crashReason, unrecordedReason } from "../../../src/sessions/CrashRecovery.js"
import { latestSchemaVersion, migrations } from "../../../src/sessions/Migrations.js"

/** Every version Migrations.ts knows, in order. */
const schemaVersions = Object.keys(migrations).map((key) => Number(key.split("_")[0])).sort((a, b) => a - b)
import { deliveryLogFile, makeDeliveryLog } from "../../../src/sessions/DeliveryLog.js"
import { backlogQuery } from "../../../src/sessions/TurnJournal.js"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createV1Database, dbFile, inbound, journalCases, openLife, rawQuery, tempHome, storeCases } from "./harness.js"
import type { EngineName } from "../../../src/sessions/SqliteDriver.js"

const telegram = (sessionKey: string, text: string, externalId?: string) =>
  inbound({ platform: "telegram", sessionKey, text, externalId })

const crashedOpen = (reports: Array<RecoveryReport> = []) => ({
  previousLifeCrashed: true,
  onRecovery: (report: RecoveryReport) => Effect.sync(() => void reports.push(report))
})

describe.each(journalCases)("duplicates, delivery and backlog on the $label", ({ available, open }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("a message whose externalId is recorded in its session is a duplicate: nothing is written", () =>
    Effect.gen(function*() {
      const db = yield* open
      const first = yield* db.beginTurn(telegram("chat-1", "hello", "100"))
      expect(first.duplicate).toBe(false)
      expect(first.context).toEqual([{ role: "user", content: "hello" }])

      const again = yield* db.beginTurn(telegram("chat-1", "hello (delivered again)", "100"))
      expect(again).toEqual({ ids: first.ids, context: [], duplicate: true })
      expect((yield* db.transcript(first.ids.sessionId)).messages.map((m) => m.content)).toEqual(["hello"])
      expect(yield* db.turns()).toHaveLength(1)

      // Still a duplicate once the earlier turn has ended: the answer is that turn's.
      yield* db.completeTurn(first.ids, "hi there")
      const late = yield* db.beginTurn(telegram("chat-1", "hello", "100"))
      expect(late).toEqual({ ids: first.ids, context: [], duplicate: true })
      expect((yield* db.transcript(first.ids.sessionId)).messages).toHaveLength(2)

      // The same id in another chat, or on another platform, is another message.
      const otherChat = yield* db.beginTurn(telegram("chat-2", "hello", "100"))
      expect(otherChat.duplicate).toBe(false)
      expect(otherChat.ids.sessionId).not.toBe(first.ids.sessionId)
      const otherPlatform = yield* db.beginTurn(inbound({ platform: "slack", sessionKey: "chat-1", text: "hello", externalId: "100" }))
      expect(otherPlatform.duplicate).toBe(false)
      expect(otherPlatform.ids.sessionId).not.toBe(first.ids.sessionId)

      // Without an externalId nothing is ever a duplicate.
      const plain1 = yield* db.beginTurn(telegram("chat-1", "again"))
      const plain2 = yield* db.beginTurn(telegram("chat-1", "again"))
      expect([plain1.duplicate, plain2.duplicate]).toEqual([false, false])
      expect(plain1.ids.turnId).not.toBe(plain2.ids.turnId)
      expect(plain2.context.map((m) => m.content)).toEqual(["hello", "hi there", "again", "again"])
      expect(yield* db.turns({ sessionId: first.ids.sessionId })).toHaveLength(3)
    }))

  it.scopedLive.prop(
    "any sequence of messages with repeated ids records exactly one turn per distinct (chat, externalId)",
    [
      FastCheck.array(
        FastCheck.record({
          chat: FastCheck.constantFrom("a", "b", "c"),
          externalId: FastCheck.constantFrom("1", "2", "3", "4", "5"),
          finish: FastCheck.constantFrom("complete", "fail", "leave running")
        }),
        { maxLength: 25 }
      )
    ],
    ([messages]) =>
      Effect.gen(function*() {
        const db = yield* open
        const firstIds = new Map<string, { readonly turnId: string; readonly sessionId: string }>()
        for (const [i, m] of messages.entries()) {
          const key = `${m.chat}/${m.externalId}`
          const begun = yield* db.beginTurn(telegram(m.chat, `message ${i}`, m.externalId))
          const earlier = firstIds.get(key)
          expect(begun.duplicate).toBe(earlier !== undefined)
          if (earlier !== undefined) {
            expect(begun.ids).toEqual(earlier)
            continue
          }
          firstIds.set(key, begun.ids)
          if (m.finish === "complete") yield* db.completeTurn(begun.ids, `reply ${i}`)
          if (m.finish === "fail") yield* db.failTurn(begun.ids, `failure ${i}`)
        }
        const turns = yield* db.turns()
        expect(turns).toHaveLength(firstIds.size)
        expect(new Set(turns.map((t) => t.id))).toEqual(new Set(Array.from(firstIds.values(), (ids) => ids.turnId)))
        // One inbound message per distinct id in each chat's session.
        for (const session of yield* db.listSessions) {
          const inbounds = (yield* db.transcript(session.id)).messages.filter((m) => m.role === "user")
          expect(inbounds).toHaveLength(Array.from(firstIds.keys()).filter((k) => k.startsWith(`${session.chatKey}/`)).length)
        }
      }),
    { timeout: 120_000, fastCheck: { numRuns: 50 } }
  )

  it.scopedLive("the backlog lists ended push turns until their answer is marked delivered, oldest first; http turns never", () =>
    Effect.gen(function*() {
      const db = yield* open
      const a = yield* db.beginTurn(telegram("chat-1", "question A"))
      const d = yield* db.beginTurn(telegram("chat-2", "question D"))
      const b = yield* db.beginTurn(telegram("chat-1", "question B"))
      const c = yield* db.beginTurn(telegram("chat-1", "question C"))
      const h = yield* db.beginTurn(inbound({ text: "over http", sessionKey: "u" }))
      expect(yield* db.backlog).toEqual([]) // running turns have no answer yet
      // Finished in another order than begun: the backlog keeps the order of arrival.
      yield* db.failTurn(b.ids, "agent exploded")
      yield* db.completeTurn(d.ids, "reply D")
      yield* db.completeTurn(a.ids, "reply A")
      yield* db.completeTurn(h.ids, "http reply")

      const backlog = yield* db.backlog
      expect(backlog.map((t) => t.ids)).toEqual([a.ids, d.ids, b.ids])
      expect(backlog[0]).toEqual({
        ids: a.ids,
        platform: "telegram",
        chatKey: "chat-1",
        status: "completed",
        inbound: "question A",
        reply: "reply A",
        reason: null,
        startedAt: expect.any(String),
        interruptedLives: 0,
        replyRef: null
      })
      expect(backlog[1]).toMatchObject({ chatKey: "chat-2", inbound: "question D", reply: "reply D", reason: null })
      expect(backlog[2]).toMatchObject({ status: "failed", chatKey: "chat-1", inbound: "question B", reply: null, reason: "agent exploded" })
      const turns = new Map((yield* db.turns()).map((t) => [t.id, t]))
      expect(backlog.map((t) => t.startedAt)).toEqual([a, d, b].map((t) => turns.get(t.ids.turnId)!.startedAt))

      // Only ended turns of the named session can be marked delivered.
      expect((yield* Effect.flip(db.markDelivered(c.ids))).reason).toBe("turn_not_ended")
      expect((yield* Effect.flip(db.markDelivered({ turnId: a.ids.turnId, sessionId: d.ids.sessionId }))).reason).toBe("unknown_turn")
      expect((yield* Effect.flip(db.markDelivered({ turnId: "no-such-turn", sessionId: a.ids.sessionId }))).reason).toBe("unknown_turn")

      // Where the answer goes is recorded for any turn, running ones included (before the answer exists).
      yield* db.setReplyRef(c.ids, "m-17")
      yield* db.setReplyRef(b.ids, "m-18")
      expect((yield* Effect.flip(db.setReplyRef({ turnId: "no-such-turn", sessionId: a.ids.sessionId }, "m-1"))).reason)
        .toBe("unknown_turn")
      expect((yield* db.backlog).map((t) => t.replyRef)).toEqual([null, null, "m-18"])

      yield* db.markDelivered(a.ids)
      yield* db.markDelivered(a.ids) // idempotent
      yield* db.markDelivered(h.ids) // harmless for a request/response turn
      expect((yield* db.backlog).map((t) => t.ids)).toEqual([d.ids, b.ids])
      yield* db.completeTurn(c.ids, "reply C")
      yield* db.markDelivered(b.ids)
      expect((yield* db.backlog).map((t) => [t.ids, t.reply, t.replyRef])).toEqual([[d.ids, "reply D", null], [c.ids, "reply C", "m-17"]])
      yield* db.markDelivered(d.ids)
      yield* db.markDelivered(c.ids)
      expect(yield* db.backlog).toEqual([])
    }))

  it.scopedLive("expireTurn only takes a resume_pending turn", () =>
    Effect.gen(function*() {
      const db = yield* open
      const running = yield* db.beginTurn(telegram("chat-1", "q"))
      expect((yield* Effect.flip(db.expireTurn(running.ids.turnId, "too old"))).reason).toBe("turn_not_resumable")
      yield* db.completeTurn(running.ids, "a")
      expect((yield* Effect.flip(db.expireTurn(running.ids.turnId, "too old"))).reason).toBe("turn_not_resumable")
      expect((yield* Effect.flip(db.expireTurn("no-such-turn", "too old"))).reason).toBe("unknown_turn")
      expect((yield* db.turns())[0]).toMatchObject({ status: "completed", reason: null })
    }))
})

describe.each(storeCases)("backlog across lives on $label", ({ available, engine }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("a resume_pending turn is in the backlog until resumed; expired, its notice stays until delivered", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      const cut = yield* db.beginTurn(telegram("chat-1", "long question"))
      const later = yield* db.beginTurn(telegram("chat-2", "another"))
      yield* db.interruptTurn(cut.ids, "gateway shutting down")
      yield* db.interruptTurn(later.ids, "gateway shutting down")
      expect(yield* db.backlog).toEqual([
        {
          ids: cut.ids,
          platform: "telegram",
          chatKey: "chat-1",
          status: "resume_pending",
          inbound: "long question",
          reply: null,
          reason: null,
          startedAt: expect.any(String),
          interruptedLives: 0,
          replyRef: null
        },
        expect.objectContaining({ ids: later.ids, status: "resume_pending" })
      ])
      // No final answer yet: nothing to mark delivered.
      expect((yield* Effect.flip(db.markDelivered(cut.ids))).reason).toBe("turn_not_ended")

      const resumed = yield* db.resumeTurn(later.ids.turnId)
      expect(resumed.duplicate).toBe(false)
      expect((yield* db.backlog).map((t) => t.ids)).toEqual([cut.ids])
      yield* db.completeTurn(later.ids, "late answer")

      yield* db.expireTurn(cut.ids.turnId, "too old to resume")
      const [turn] = yield* db.turns({ sessionId: cut.ids.sessionId })
      expect(turn).toMatchObject({ status: "interrupted", reason: "too old to resume" })
      expect(turn!.endedAt).not.toBeNull()
      expect((yield* Effect.flip(db.expireTurn(cut.ids.turnId, "again"))).reason).toBe("turn_not_resumable")
      expect((yield* Effect.flip(db.resumeTurn(cut.ids.turnId))).reason).toBe("turn_not_resumable")
      expect((yield* db.backlog).map((t) => [t.ids, t.status, t.reply, t.reason])).toEqual([
        [cut.ids, "interrupted", null, "too old to resume"],
        [later.ids, "completed", "late answer", null]
      ])
      yield* db.markDelivered(cut.ids)
      yield* db.markDelivered(later.ids)
      expect(yield* db.backlog).toEqual([])
    }))

  it.scopedLive("duplicates are recognised and delivery is kept across restarts; a second markDelivered keeps the first time", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const first = yield* openLife(file, engine)
      const turn = yield* first.beginTurn(telegram("chat-1", "hello", "update-7"))
      yield* first.completeTurn(turn.ids, "hi")
      const undelivered = yield* first.beginTurn(telegram("chat-1", "second", "update-8"))
      yield* first.failTurn(undelivered.ids, "model unavailable")
      yield* first.markDelivered(turn.ids)
      yield* first.close
      const deliveredAt = rawQuery(file, engine, [["SELECT delivered_at FROM turns WHERE id = ?", [turn.ids.turnId]]]).pipe(
        Effect.map(([rows]) => rows![0]!.delivered_at)
      )
      const firstTime = yield* deliveredAt
      expect(firstTime).toEqual(expect.any(String))

      const second = yield* openLife(file, engine)
      // The platform delivers update 7 again (its acknowledgement was lost with the first life).
      expect(yield* second.beginTurn(telegram("chat-1", "hello", "update-7"))).toEqual({ ids: turn.ids, context: [], duplicate: true })
      expect((yield* second.backlog).map((t) => [t.ids, t.reason])).toEqual([[undelivered.ids, "model unavailable"]])
      yield* Effect.sleep("5 millis")
      yield* second.markDelivered(turn.ids)
      yield* second.close
      expect(yield* deliveredAt).toBe(firstTime)
    }))

  it.scopedLive("an answer in the delivery log counts as delivered in the next life, though the database never got it", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const log = deliveryLogFile(file)
      const first = yield* openLife(file, engine)
      const sent = yield* first.beginTurn(telegram("chat-1", "hello", "u1"))
      yield* first.completeTurn(sent.ids, "hi")
      const unsent = yield* first.beginTurn(telegram("chat-2", "other", "u2"))
      yield* first.completeTurn(unsent.ids, "not sent yet")
      const running = yield* first.beginTurn(telegram("chat-3", "still running", "u3"))
      yield* first.markDelivered(sent.ids)
      expect(fs.readFileSync(log, "utf8")).toBe(`${sent.ids.turnId}\n`)
      yield* first.close
      // As if a life had died right after appending, before its database write: the row says
      // undelivered, the log says delivered. A torn line, garbage and ids of other turns are ignored.
      yield* rawQuery(file, engine, [["UPDATE turns SET delivered_at = NULL WHERE id = ?", [sent.ids.turnId]]])
      fs.writeFileSync(log, `${sent.ids.turnId}\n${running.ids.turnId}\nnot a turn id!\nno-such-turn\n${unsent.ids.turnId.slice(0, 9)}`)

      const second = yield* openLife(file, engine)
      expect(fs.readFileSync(log, "utf8")).toBe("")
      expect((yield* second.backlog).map((t) => t.ids)).toEqual([unsent.ids, running.ids])
    }))

  it.scopedLive("the breaker's failure notice is in the backlog of a suspended session; its resume_pending turns wait for reactivation", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const life1 = yield* openLife(file, engine)
      const poison = yield* life1.beginTurn(telegram("chat-7", "poison", "u1"))
      const queued = yield* life1.beginTurn(telegram("chat-7", "queued behind it", "u2"))
      const elsewhere = yield* life1.beginTurn(telegram("chat-8", "unrelated", "u1"))
      yield* life1.close // all three running: what SIGKILL leaves
      // Lives 2 and 3 resume only the poison turn and die with it running.
      for (let i = 0; i < 2; i++) {
        const life = yield* openLife(file, engine, crashedOpen())
        yield* life.resumeTurn(poison.ids.turnId)
        yield* life.close
      }
      const reports: Array<RecoveryReport> = []
      const db = yield* openLife(file, engine, crashedOpen(reports))
      expect(reports[0]).toMatchObject({ turns_failed: 1, sessions_suspended: [poison.ids.sessionId] })

      const backlog = yield* db.backlog
      expect(backlog.map((t) => [t.ids, t.status])).toEqual([
        [poison.ids, "failed"],
        [elsewhere.ids, "resume_pending"]
      ])
      expect(backlog[0]).toMatchObject({ chatKey: "chat-7", inbound: "poison", reply: null, interruptedLives: 3 })
      expect(backlog[0]!.reason).toContain("restart-loop breaker")
      expect(backlog[0]!.reason).toContain(crashReason)
      expect(backlog[1]).toMatchObject({ reason: null, interruptedLives: 1 })

      // A message already recorded is a duplicate even in a suspended session; a new one is refused.
      expect(yield* db.beginTurn(telegram("chat-7", "poison", "u1"))).toEqual({ ids: poison.ids, context: [], duplicate: true })
      expect((yield* Effect.flip(db.beginTurn(telegram("chat-7", "new", "u3")))).reason).toBe("suspended")

      yield* db.markDelivered(poison.ids)
      expect((yield* db.backlog).map((t) => t.ids)).toEqual([elsewhere.ids])
      yield* db.reactivateSession(poison.ids.sessionId)
      expect((yield* db.backlog).map((t) => t.ids)).toEqual([queued.ids, elsewhere.ids])
    }))

  // SQLite files only (PostgreSQL keeps no file in the home).
  it.scopedLive.skipIf(engine === "postgresql")("a database at schema version 1 migrates: ended turns count as delivered, external ids start being recorded", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const t0 = "2024-05-01T10:00:00.000Z"
      const ended = "2024-05-01T10:00:05.000Z"
      const session = (id: string, platform: string, chat: string) =>
        [`INSERT INTO sessions (id, platform, chat_key, user, created_at, updated_at, status) VALUES (?, ?, ?, NULL, ?, ?, 'active')`, [
          id,
          platform,
          chat,
          t0,
          t0
        ]] as const
      const turn = (id: string, sessionId: string, seq: number, status: string, delivery: string, reason: string | null, at: string) =>
        [
          `INSERT INTO turns (id, session_id, inbound_seq, status, reason, delivery, started_at, ended_at, interrupted_lives)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [id, sessionId, seq, status, reason, delivery, at, status === "running" ? null : ended, status === "resume_pending" ? 1 : 0]
        ] as const
      const message = (sessionId: string, seq: number, role: string, content: string, turnId: string) =>
        [`INSERT INTO messages (session_id, seq, role, content, turn_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`, [
          sessionId,
          seq,
          role,
          content,
          turnId,
          t0
        ]] as const
      const ran = yield* createV1Database(file, engine as EngineName, [
        session("s1", "telegram", "chat-1"),
        session("s2", "http", "u"),
        turn("done", "s1", 1, "completed", "push", null, "2024-05-01T10:00:00.000Z"),
        message("s1", 1, "user", "old question", "done"),
        message("s1", 2, "assistant", "old answer", "done"),
        turn("broken", "s1", 3, "failed", "push", "agent exploded", "2024-05-01T10:00:01.000Z"),
        message("s1", 3, "user", "broken question", "broken"),
        turn("pending", "s1", 4, "resume_pending", "push", crashReason, "2024-05-01T10:00:02.000Z"),
        message("s1", 4, "user", "pending question", "pending"),
        turn("orphan", "s1", 5, "running", "push", null, "2024-05-01T10:00:03.000Z"),
        message("s1", 5, "user", "orphan question", "orphan"),
        turn("web", "s2", 1, "interrupted", "request_response", "client went away", "2024-05-01T10:00:04.000Z"),
        message("s2", 1, "user", "web question", "web")
      ])
      expect(ran.map(([id]) => id)).toEqual([1])

      const db = yield* openLife(file, engine)
      // The running turn left by the v1 life is recovered; nothing ended before the upgrade is resent.
      expect((yield* db.backlog).map((t) => [t.ids.turnId, t.status, t.inbound, t.interruptedLives])).toEqual([
        ["pending", "resume_pending", "pending question", 1],
        ["orphan", "resume_pending", "orphan question", 1]
      ])
      expect((yield* db.turns({ status: "resume_pending" })).find((t) => t.id === "orphan")!.reason).toBe(unrecordedReason)
      const fresh = yield* db.beginTurn(telegram("chat-1", "new question", "update-1"))
      expect(fresh.context.map((m) => m.content)).toEqual([
        "old question",
        "old answer",
        "broken question",
        "pending question",
        "orphan question",
        "new question"
      ])
      expect((yield* db.beginTurn(telegram("chat-1", "new question", "update-1"))).duplicate).toBe(true)
      yield* db.close

      const [migrated, turns, indexes] = yield* rawQuery(file, engine, [
        ["SELECT migration_id FROM schema_migrations ORDER BY migration_id"],
        ["SELECT id, status, ended_at, delivered_at, external_id FROM turns ORDER BY rowid"],
        ["SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'turns' ORDER BY name"]
      ])
      expect(migrated!.map((r) => Number(r.migration_id))).toEqual(schemaVersions)
      expect(Math.max(...schemaVersions)).toBe(latestSchemaVersion)
      expect(turns!.map((r) => [r.id, r.status, r.delivered_at, r.external_id])).toEqual([
        ["done", "completed", ended, null],
        ["broken", "failed", ended, null],
        ["pending", "resume_pending", null, null],
        ["orphan", "resume_pending", null, null],
        ["web", "interrupted", ended, null],
        [fresh.ids.turnId, "running", null, "update-1"]
      ])
      expect(indexes!.map((r) => r.name)).toEqual(
        expect.arrayContaining(["turns_by_external_id", "turns_push_undelivered", "turns_by_session", "turns_by_status"])
      )
    }))

  // SQLite files only (PostgreSQL keeps no file in the home).
  it.scopedLive.skipIf(engine === "postgresql")("the backlog query reads the partial index of undelivered push turns, not the whole turns table", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const db = yield* openLife(file, engine)
      yield* db.beginTurn(telegram("chat-1", "q"))
      yield* db.close
      const [plan] = yield* rawQuery(file, engine, [[`EXPLAIN QUERY PLAN ${backlogQuery}`]])
      const details = plan!.map((r) => String(r.detail)).join("\n")
      expect(details).toMatch(/USING INDEX turns_push_undelivered/)
      expect(details).not.toMatch(/turns_by_status|SCAN t(?! USING INDEX turns_push_undelivered)/)
    }))
})

describe("DeliveryLog", () => {
  it("appends one id per line and empties itself once large and every entry is in the database", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hermes-delivery-")), "state.db-delivered")
    const log = makeDeliveryLog(file, 100)
    log.append("a".repeat(40))
    log.append("b".repeat(40))
    log.settled(true)
    // One entry still waits for its database write: kept.
    log.append("c".repeat(40))
    expect(fs.readFileSync(file, "utf8").split("\n").filter(Boolean)).toHaveLength(3)
    log.settled(true)
    log.settled(true)
    expect(fs.readFileSync(file, "utf8")).toBe("")
    // A database write that failed keeps the log for the next open to fold.
    log.append("d".repeat(60))
    log.append("e".repeat(60))
    log.settled(false)
    log.settled(true)
    expect(fs.readFileSync(file, "utf8")).toContain("d".repeat(60))
  })
})
