// The in-memory journal keeps the SessionDbService meaning for tests and `SessionStore.memory()`:
// sessions by key, history stored once, and interruptions that are final (no later life resumes them).
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/SessionDb.js"
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
})
