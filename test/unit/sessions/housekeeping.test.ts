// Sessions housekeeping (issue "Operators' experience", item 8) on the in-memory journal and each
// SQLite engine: prune removes finished sessions last active before the cutoff, with their turns and
// messages, in one transaction, and never a session the gateway still owes something (a turn
// running, waiting to resume, or a push answer not delivered) nor a suspended one; a session is
// found by its id or by the key its client sent.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Effect from "effect/Effect"
import { type SessionDbService } from "../../../src/sessions/SessionDb.js"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"
import { holdsSession, isPrunable } from "../../../src/sessions/SessionHousekeeping.js"
import { answerRawQuery, maximumPruneAgeMs, minimumPruneAgeMs } from "../../../src/sessions/SessionQueries.js"
import { dbFile, inbound, journalCases, openLife, rawQuery, tempHome, storeCases } from "./harness.js"

/** Far enough ahead that every session recorded by the test is older. */
const future = () => new Date(Date.now() + 3600_000).toISOString()
/** Before anything the test records. */
const past = "2000-01-01T00:00:00.000Z"

type Finish = "complete" | "fail" | "interrupt" | "leave running" | "complete, delivered" | "fail, delivered"

/** What a turn ending this way leaves the gateway owing, by platform kind (http: request/response; telegram: push). */
const owes = (platform: "http" | "telegram", finish: Finish): boolean =>
  finish === "leave running" || (platform === "telegram" && (finish === "complete" || finish === "fail" || finish === "interrupt"))

const playTurn = (db: SessionDbService, platform: "http" | "telegram", key: string, finish: Finish, text: string) =>
  Effect.gen(function*() {
    const begun = yield* db.beginTurn(inbound({ platform, sessionKey: key, text }))
    if (finish === "complete" || finish === "complete, delivered") yield* db.completeTurn(begun.ids, `re: ${text}`)
    if (finish === "fail" || finish === "fail, delivered") yield* db.failTurn(begun.ids, "agent failed")
    if (finish === "interrupt") yield* db.interruptTurn(begun.ids, "shutdown")
    if (finish.endsWith("delivered")) yield* db.markDelivered(begun.ids)
    return begun.ids
  })

describe("the prune decision", () => {
  it("holds a session for a running or resume_pending turn, or an undelivered push answer; never a suspended one", () => {
    expect(holdsSession({ status: "running", delivery: "request_response", delivered: false })).toBe(true)
    expect(holdsSession({ status: "resume_pending", delivery: "push", delivered: false })).toBe(true)
    expect(holdsSession({ status: "completed", delivery: "push", delivered: false })).toBe(true)
    expect(holdsSession({ status: "completed", delivery: "push", delivered: true })).toBe(false)
    expect(holdsSession({ status: "interrupted", delivery: "request_response", delivered: false })).toBe(false)
    const old = { status: "active" as const, lastActivity: "2026-01-01T00:00:00.000Z" }
    expect(isPrunable(old, [], "2026-01-02T00:00:00.000Z")).toBe(true)
    // Strictly before: activity at the cutoff itself is kept.
    expect(isPrunable(old, [], old.lastActivity)).toBe(false)
    expect(isPrunable({ ...old, status: "suspended" }, [], "2026-01-02T00:00:00.000Z")).toBe(false)
  })
})

describe("the control socket's prune and lookup requests", () => {
  it.effect("a prune younger than a day, older than ten years, or not a whole number is refused; a valid one answers its counts", () =>
    Effect.gen(function*() {
      const db = memorySessionDb(emptyJournal())
      yield* playTurn(db, "http", "alice", "complete", "hi")
      const answer = answerRawQuery(db)
      for (const olderThanMs of [0, minimumPruneAgeMs - 1, maximumPruneAgeMs + 1, minimumPruneAgeMs + 0.5, "1d"]) {
        const refused = yield* answer({ op: "prune", olderThanMs })
        expect(refused, String(olderThanMs)).toHaveProperty("error")
      }
      expect(yield* db.listSessions).toHaveLength(1)
      const pruned = (yield* answer({ op: "prune", olderThanMs: minimumPruneAgeMs })) as { ok: Record<string, unknown> }
      // The TestClock stands at 1970: the session is younger than the cutoff, so nothing goes.
      expect(pruned.ok).toEqual({ sessions: 0, turns: 0, messages: 0, cutoff: new Date(-minimumPruneAgeMs).toISOString() })
      const found = (yield* answer({ op: "lookup", key: "alice" })) as { ok: ReadonlyArray<{ chatKey: string }> }
      expect(found.ok.map((s) => s.chatKey)).toEqual(["alice"])
    }))
})

describe.each(journalCases)("sessions housekeeping on the $label", ({ available, open }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("prune removes finished sessions older than the cutoff with their turns and messages, and reports the counts", () =>
    Effect.gen(function*() {
      const db = yield* open
      yield* playTurn(db, "http", "done-1", "complete", "a")
      yield* playTurn(db, "http", "done-1", "fail", "b")
      yield* playTurn(db, "telegram", "done-2", "complete, delivered", "c")
      const running = yield* playTurn(db, "http", "busy", "leave running", "d")
      const waiting = yield* playTurn(db, "telegram", "waiting", "interrupt", "e")
      const undelivered = yield* playTurn(db, "telegram", "owed", "complete", "f")

      expect(yield* db.prune(past)).toEqual({ sessions: 0, turns: 0, messages: 0 })
      // done-1: 2 turns, 3 messages (a, re: a, b); done-2: 1 turn, 2 messages.
      expect(yield* db.prune(future())).toEqual({ sessions: 2, turns: 3, messages: 5 })
      const left = yield* db.listSessions
      expect(left.map((s) => s.chatKey).sort()).toEqual(["busy", "owed", "waiting"])
      expect((yield* db.turns()).map((t) => t.id).sort()).toEqual([running.turnId, waiting.turnId, undelivered.turnId].sort())
      // What stays works as before: the running turn completes, a pruned key starts afresh.
      yield* db.completeTurn(running, "late")
      const again = yield* db.beginTurn(inbound({ platform: "http", sessionKey: "done-1", text: "back" }))
      expect(again.context).toEqual([{ role: "user", content: "back" }])
      // busy is finished now; the new done-1 has its turn running.
      expect(yield* db.prune(future())).toEqual({ sessions: 1, turns: 1, messages: 2 })
      expect((yield* db.listSessions).map((s) => s.chatKey).sort()).toEqual(["done-1", "owed", "waiting"])
    }))

  it.scopedLive("a session is found by its id, else by its client's key; a key used on two platforms names both", () =>
    Effect.gen(function*() {
      const db = yield* open
      const alice = yield* playTurn(db, "http", "alice", "complete", "hi")
      const keyless = yield* db.beginTurn(inbound({ text: "no key" }))
      yield* playTurn(db, "telegram", "alice", "complete, delivered", "hello")
      expect((yield* db.sessionsByKey(alice.sessionId)).map((s) => s.id)).toEqual([alice.sessionId])
      expect((yield* db.sessionsByKey(keyless.ids.sessionId)).map((s) => s.id)).toEqual([keyless.ids.sessionId])
      const both = yield* db.sessionsByKey("alice")
      expect(both.map((s) => s.platform)).toEqual(["http", "telegram"])
      expect(both.map((s) => s.chatKey)).toEqual(["alice", "alice"])
      expect(yield* db.sessionsByKey("nobody")).toEqual([])
    }))

  it.scopedLive.prop(
    "pruning never removes a session with a turn running, waiting to resume or owing an answer, and removes every other",
    [
      FastCheck.array(
        FastCheck.record({
          platform: FastCheck.constantFrom("http" as const, "telegram" as const),
          turns: FastCheck.array(
            FastCheck.constantFrom<Finish>("complete", "fail", "interrupt", "leave running", "complete, delivered", "fail, delivered"),
            { minLength: 1, maxLength: 3 }
          )
        }),
        { maxLength: 8 }
      )
    ],
    ([sessions]) =>
      Effect.gen(function*() {
        const db = yield* open
        const kept = new Map<string, number>()
        let removedTurns = 0
        for (const [i, session] of sessions.entries()) {
          let sessionId = ""
          for (const [j, finish] of session.turns.entries()) {
            sessionId = (yield* playTurn(db, session.platform, `chat-${i}`, finish, `m${j}`)).sessionId
          }
          if (session.turns.some((finish) => owes(session.platform, finish))) kept.set(sessionId, session.turns.length)
          else removedTurns += session.turns.length
        }
        const report = yield* db.prune(future())
        expect(report.sessions).toBe(sessions.length - kept.size)
        expect(report.turns).toBe(removedTurns)
        expect(new Set((yield* db.listSessions).map((s) => s.id))).toEqual(new Set(kept.keys()))
        for (const [sessionId, turns] of kept) expect(yield* db.turns({ sessionId })).toHaveLength(turns)
        // Nothing left is prunable: a second prune removes nothing.
        expect((yield* db.prune(future())).sessions).toBe(0)
      }),
    { timeout: 120_000, fastCheck: { numRuns: 30 } }
  )
})

describe.each(storeCases)("sessions housekeeping that needs the durable journal, on $label", ({ available, engine }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("a suspended session is never pruned; a prune is durable across a reopen", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const first = yield* openLife(file, engine)
      const suspended = yield* playTurn(first, "http", "suspended", "complete", "x")
      yield* playTurn(first, "http", "finished", "complete", "y")
      yield* first.close
      yield* rawQuery(file, engine, [["UPDATE sessions SET status = 'suspended' WHERE id = ?", [suspended.sessionId]]])

      const second = yield* openLife(file, engine)
      expect(yield* second.prune(future())).toEqual({ sessions: 1, turns: 1, messages: 2 })
      yield* second.close

      const counts = yield* rawQuery(file, engine, [
        ["SELECT COUNT(*) AS n FROM sessions"],
        ["SELECT COUNT(*) AS n FROM turns"],
        ["SELECT COUNT(*) AS n FROM messages"]
      ])
      expect(counts.map((rows) => Number(rows[0]!["n"]))).toEqual([1, 1, 2])
      const third = yield* openLife(file, engine)
      expect((yield* third.listSessions).map((s) => [s.id, s.status])).toEqual([[suspended.sessionId, "suspended"]])
    }))
})
