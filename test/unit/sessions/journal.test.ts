// The turn journal on each engine: sessions found by key or created, history stored once, turns
// begun, completed, failed and interrupted by platform kind, transcripts in order, suspension.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dbFile, inbound, openLife, storeCases, tempHome } from "./harness.js"

describe.each(storeCases)("turn journal on $label", ({ available, engine }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("a keyless turn starts a new session whose history is stored before the inbound message", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      const history = [
        { role: "system" as const, content: "be brief" },
        { role: "user" as const, content: "earlier question" },
        { role: "assistant" as const, content: "earlier answer" }
      ]
      const first = yield* db.beginTurn(inbound({ text: "now", history }))
      expect(first.context).toEqual([...history, { role: "user", content: "now" }])
      const second = yield* db.beginTurn(inbound({ text: "another", history }))
      expect(second.ids.sessionId).not.toBe(first.ids.sessionId)

      const t = yield* db.transcript(first.ids.sessionId)
      expect(t.messages.map((m) => [m.seq, m.role, m.content, m.turnId])).toEqual([
        [1, "system", "be brief", null],
        [2, "user", "earlier question", null],
        [3, "assistant", "earlier answer", null],
        [4, "user", "now", first.ids.turnId]
      ])
      // A session begun without a key answers to its own id, so a client can continue it.
      expect(t.session.chatKey).toBe(first.ids.sessionId)
      const continued = yield* db.beginTurn(inbound({ text: "follow-up", sessionKey: first.ids.sessionId, history }))
      expect(continued.ids.sessionId).toBe(first.ids.sessionId)
    }))

  it.scopedLive("a known session key continues the session and the client's copy of the history is not stored again", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      const a = yield* db.beginTurn(inbound({ text: "q1", sessionKey: "alice", history: [{ role: "system", content: "sys" }] }))
      yield* db.completeTurn(a.ids, "a1")
      const b = yield* db.beginTurn(inbound({
        text: "q2",
        sessionKey: "alice",
        history: [{ role: "system", content: "sys" }, { role: "user", content: "q1" }, { role: "assistant", content: "a1" }]
      }))
      expect(b.ids.sessionId).toBe(a.ids.sessionId)
      expect(b.context).toEqual([
        { role: "system", content: "sys" },
        { role: "user", content: "q1" },
        { role: "assistant", content: "a1" },
        { role: "user", content: "q2" }
      ])
      // The session id handed back to the client (X-Hermes-Session) continues it too.
      const byId = yield* db.beginTurn(inbound({ text: "q3", sessionKey: a.ids.sessionId }))
      expect(byId.ids.sessionId).toBe(a.ids.sessionId)
      expect(byId.context.map((m) => m.content)).toEqual(["sys", "q1", "a1", "q2", "q3"])
      // Same key on another platform is another conversation.
      const other = yield* db.beginTurn(inbound({ text: "hi", sessionKey: "alice", platform: "telegram" }))
      expect(other.ids.sessionId).not.toBe(a.ids.sessionId)

      const sessions = yield* db.listSessions
      expect(sessions).toHaveLength(2)
      const alice = sessions.find((s) => s.id === a.ids.sessionId)!
      expect(alice).toMatchObject({ platform: "http", chatKey: "alice", messageCount: 5, status: "active" })
      expect(sessions[0]!.id).toBe(other.ids.sessionId) // most recent activity first
    }))

  it.scopedLive("complete, fail and interrupt record outcomes; interruption depends on the platform's delivery", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine, undefined, { requestResponsePlatforms: ["http", "sse"] })
      const done = yield* db.beginTurn(inbound({ text: "1", sessionKey: "s" }))
      yield* db.completeTurn(done.ids, "reply 1")
      const failed = yield* db.beginTurn(inbound({ text: "2", sessionKey: "s" }))
      yield* db.failTurn(failed.ids, "agent exploded")
      const httpCut = yield* db.beginTurn(inbound({ text: "3", sessionKey: "s" }))
      yield* db.interruptTurn(httpCut.ids, "drain deadline passed")
      const sseCut = yield* db.beginTurn(inbound({ text: "4", sessionKey: "t", platform: "sse" }))
      yield* db.interruptTurn(sseCut.ids, "gateway shutting down")
      const pushCut = yield* db.beginTurn(inbound({ text: "5", sessionKey: "chat-9", platform: "telegram" }))
      yield* db.interruptTurn(pushCut.ids, "gateway shutting down")

      const byId = new Map((yield* db.turns()).map((t) => [t.id, t]))
      expect(byId.get(done.ids.turnId)).toMatchObject({ status: "completed", reason: null, inboundSeq: 1 })
      expect(byId.get(done.ids.turnId)!.endedAt).not.toBeNull()
      expect(byId.get(failed.ids.turnId)).toMatchObject({ status: "failed", reason: "agent exploded" })
      expect(byId.get(httpCut.ids.turnId)).toMatchObject({ status: "interrupted", delivery: "request_response" })
      expect(byId.get(sseCut.ids.turnId)).toMatchObject({ status: "interrupted", delivery: "request_response" })
      expect(byId.get(pushCut.ids.turnId)).toMatchObject({ status: "resume_pending", delivery: "push", reason: "gateway shutting down" })

      const t = yield* db.transcript(done.ids.sessionId)
      expect(t.messages.map((m) => [m.seq, m.role, m.content, m.turnStatus])).toEqual([
        [1, "user", "1", "completed"],
        [2, "assistant", "reply 1", "completed"],
        [3, "user", "2", "failed"],
        [4, "user", "3", "interrupted"]
      ])
      expect(yield* db.turns({ status: "resume_pending" })).toHaveLength(1)
      expect(yield* db.turns({ sessionId: done.ids.sessionId })).toHaveLength(3)
    }))

  it.scopedLive("an interruption that lands after completion keeps the real outcome; finishing twice is refused", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      const turn = yield* db.beginTurn(inbound({ text: "x", sessionKey: "k" }))
      yield* db.completeTurn(turn.ids, "y")
      yield* db.interruptTurn(turn.ids, "late interrupt")
      expect((yield* db.turns())[0]).toMatchObject({ status: "completed", reason: null })
      const again = yield* Effect.flip(db.completeTurn(turn.ids, "y again"))
      expect(again.reason).toBe("turn_not_running")
      const unknown = yield* Effect.flip(db.failTurn({ turnId: "nope", sessionId: turn.ids.sessionId }, "x"))
      expect(unknown.reason).toBe("unknown_turn")
      expect((yield* db.transcript(turn.ids.sessionId)).messages).toHaveLength(2)
    }))

  it.scopedLive("a resume_pending turn resumes as running with the context up to its inbound message", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      const first = yield* db.beginTurn(inbound({ platform: "telegram", sessionKey: "c", text: "first" }))
      yield* db.completeTurn(first.ids, "answer")
      const cut = yield* db.beginTurn(inbound({ platform: "telegram", sessionKey: "c", text: "second" }))
      yield* db.interruptTurn(cut.ids, "gateway restarting")
      const resumed = yield* db.resumeTurn(cut.ids.turnId)
      expect(resumed.ids).toEqual(cut.ids)
      expect(resumed.context).toEqual([
        { role: "user", content: "first" },
        { role: "assistant", content: "answer" },
        { role: "user", content: "second" }
      ])
      expect((yield* db.turns({ status: "running" })).map((t) => t.id)).toEqual([cut.ids.turnId])
      expect((yield* Effect.flip(db.resumeTurn(cut.ids.turnId))).reason).toBe("turn_not_resumable")
      yield* db.completeTurn(cut.ids, "late answer")
      expect((yield* db.transcript(cut.ids.sessionId)).messages.map((m) => m.content)).toEqual([
        "first",
        "answer",
        "second",
        "late answer"
      ])
    }))

  it.scopedLive("transcript of an unknown session fails with a clear error", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      const error = yield* Effect.flip(db.transcript("no-such-session"))
      expect(error.reason).toBe("unknown_session")
      expect(error.message).toContain("no-such-session")
    }))

  it.scopedLive("a failed beginTurn leaves nothing behind (one transaction)", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      // A role the schema rejects makes the history insert fail after the session row was written.
      const bad = inbound({ text: "x", sessionKey: "k", history: [{ role: "wizard" as "user", content: "?" }] })
      const exit = yield* Effect.exit(db.beginTurn(bad))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* db.listSessions).toEqual([])
      expect(yield* db.turns()).toEqual([])
      const ok = yield* db.beginTurn(inbound({ text: "y", sessionKey: "k" }))
      expect(ok.context).toEqual([{ role: "user", content: "y" }])
    }))
})
