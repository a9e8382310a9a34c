// The in-memory journal keeps the SessionDbService meaning for tests and `SessionStore.memory()`:
// sessions by key, history stored once, and interruptions that are final (no later life resumes them).
// Duplicates, delivery and the backlog shared with the durable journal are in delivery.test.ts.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"
import { inbound } from "./harness.js"

describe("in-memory journal", () => {
  it.effect("records turns, transcripts and sessions like the durable one", () =>
    Effect.gen(function*() {
      const db = memorySessionDb(emptyJournal())
      const a = yield* db.beginTurn(inbound({ text: "q1", sessionKey: "k", history: [{ role: "system", content: "s" }] }))
      yield* db.completeTurn(a.ids, "a1")
      const b = yield* db.beginTurn(inbound({ text: "q2", sessionKey: "k", history: [{ role: "system", content: "s" }] }))
      expect(b.context.map((m) => m.content)).toEqual(["s", "q1", "a1", "q2"])
      yield* db.interruptTurn(b.ids, "stopping")
      const push = yield* db.beginTurn(inbound({ text: "p", platform: "telegram", sessionKey: "c" }))
      yield* db.interruptTurn(push.ids, "stopping")
      expect((yield* db.turns()).map((t) => t.status)).toEqual(["completed", "interrupted", "interrupted"])
      expect((yield* Effect.flip(db.resumeTurn(push.ids.turnId))).reason).toBe("turn_not_resumable")
      const t = yield* db.transcript(a.ids.sessionId)
      expect(t.messages.map((m) => [m.seq, m.content, m.turnStatus])).toEqual([
        [1, "s", null],
        [2, "q1", "completed"],
        [3, "a1", "completed"],
        [4, "q2", "interrupted"]
      ])
      expect((yield* db.listSessions).map((s) => s.messageCount).sort()).toEqual([1, 4])
      yield* db.close
      expect((yield* Effect.flip(db.listSessions)).reason).toBe("closed")
    }))

  it.effect("delivery follows the platform; an interrupted push turn is final and its notice is in the backlog", () =>
    Effect.gen(function*() {
      const journal = emptyJournal()
      const db = memorySessionDb(journal, { requestResponsePlatforms: ["http", "sse"] })
      const web = yield* db.beginTurn(inbound({ text: "w", sessionKey: "u" }))
      const sse = yield* db.beginTurn(inbound({ text: "s", sessionKey: "u", platform: "sse" }))
      const push = yield* db.beginTurn(inbound({ text: "p", platform: "telegram", sessionKey: "c", externalId: "9" }))
      expect((yield* db.turns()).map((t) => [t.id, t.delivery])).toEqual([
        [web.ids.turnId, "request_response"],
        [sse.ids.turnId, "request_response"],
        [push.ids.turnId, "push"]
      ])
      for (const t of [web, sse, push]) yield* db.interruptTurn(t.ids, "stopping")
      expect(yield* db.turns({ status: "resume_pending" })).toEqual([])
      expect(yield* db.backlog).toEqual([{
        ids: push.ids,
        platform: "telegram",
        chatKey: "c",
        status: "interrupted",
        inbound: "p",
        reply: null,
        reason: "stopping",
        startedAt: expect.any(String),
        interruptedLives: 0,
        replyRef: null
      }])
      // Nothing is ever resume_pending here, so nothing can expire.
      expect((yield* Effect.flip(db.expireTurn(push.ids.turnId, "too old"))).reason).toBe("turn_not_resumable")

      yield* db.markDelivered(push.ids)
      const deliveredAt = journal.turns.get(push.ids.turnId)!.deliveredAt
      expect(deliveredAt).toEqual(expect.any(String))
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 3)))
      yield* db.markDelivered(push.ids)
      expect(journal.turns.get(push.ids.turnId)!.deliveredAt).toBe(deliveredAt)
      expect(journal.turns.get(push.ids.turnId)!.externalId).toBe("9")
      expect(yield* db.backlog).toEqual([])
    }))

  it.effect("without options only http is request/response", () =>
    Effect.gen(function*() {
      const db = memorySessionDb(emptyJournal())
      yield* db.beginTurn(inbound({ text: "w" }))
      yield* db.beginTurn(inbound({ text: "s", platform: "sse" }))
      expect((yield* db.turns()).map((t) => t.delivery)).toEqual(["request_response", "push"])
    }))
})
