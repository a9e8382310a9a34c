// A turn's context is bounded by sessions.max_context_messages on every journal: the session's
// first system messages and its newest others, in the session's order, the new message last;
// the SQL journal reads them through indexes, never the whole session.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { boundedContext } from "../../../src/sessions/ContextBound.js"
import { type SessionDbService } from "../../../src/sessions/SessionDb.js"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"
import { dbFile, engineCases, inbound, openLife, rawQuery, storeCases, tempHome } from "./harness.js"

const max = 5

interface BoundedCase {
  readonly label: string
  readonly available: boolean
  readonly open: Effect.Effect<SessionDbService, never, Scope.Scope>
}

const cases: ReadonlyArray<BoundedCase> = [
  { label: "in-memory journal", available: true, open: Effect.sync(() => memorySessionDb(emptyJournal(), { maxContextMessages: max })) },
  ...storeCases.map((c): BoundedCase => ({
    label: c.label,
    available: c.available,
    open: Effect.orDie(Effect.flatMap(tempHome, (home) => openLife(dbFile(home), c.engine, undefined, { maxContextMessages: max })))
  }))
]

const history = [
  { role: "system" as const, content: "be brief" },
  ...Array.from({ length: 30 }, (_, i) => ({ role: i % 2 === 0 ? "user" as const : "assistant" as const, content: `m${i}` }))
]

describe.each(cases)("bounded context on $label", ({ available, open }) => {
  if (!available) {
    it.skip("engine unavailable in this Node", () => {})
    return
  }

  it.scopedLive("a turn gets the system message and the newest messages, in order, at most max_context_messages", () =>
    Effect.gen(function*() {
      const db = yield* open
      const first = yield* db.beginTurn(inbound({ text: "now", history }))
      expect(first.context).toEqual([
        { role: "system", content: "be brief" },
        { role: "assistant", content: "m27" },
        { role: "user", content: "m28" },
        { role: "assistant", content: "m29" },
        { role: "user", content: "now" }
      ])
      yield* db.completeTurn(first.ids, "answer")
      const next = yield* db.beginTurn(inbound({ text: "again", sessionKey: first.ids.sessionId }))
      expect(next.context).toEqual([
        { role: "system", content: "be brief" },
        { role: "assistant", content: "m29" },
        { role: "user", content: "now" },
        { role: "assistant", content: "answer" },
        { role: "user", content: "again" }
      ])
      // The transcript still holds everything: only what a turn reads is bounded.
      expect((yield* db.transcript(first.ids.sessionId)).messages).toHaveLength(history.length + 3)
    }))
})

describe("boundedContext", () => {
  it("keeps the newest message even when system messages fill the bound", () => {
    const messages = [
      { seq: 1, role: "system" as const, content: "a" },
      { seq: 2, role: "system" as const, content: "b" },
      { seq: 3, role: "user" as const, content: "q" }
    ]
    expect(boundedContext(messages, 2)).toEqual([{ role: "system", content: "a" }, { role: "user", content: "q" }])
    expect(boundedContext(messages, 1)).toEqual([{ role: "user", content: "q" }])
  })
})

describe.each(engineCases.filter((c) => c.available))("context query plan on $label", ({ engine }) => {
  it.scopedLive("reads the system messages through messages_system and the newest through the primary key", () =>
    Effect.gen(function*() {
      const file = dbFile(yield* tempHome)
      const db = yield* openLife(file, engine)
      yield* db.beginTurn(inbound({ text: "now", history }))
      yield* db.close
      const [system, recent] = yield* rawQuery(file, engine, [
        ["EXPLAIN QUERY PLAN SELECT seq, role, content FROM messages WHERE session_id = ? AND role = 'system' AND seq <= ? ORDER BY seq LIMIT ?", ["s", 10, 5]],
        ["EXPLAIN QUERY PLAN SELECT seq, role, content FROM messages WHERE session_id = ? AND role <> 'system' AND seq <= ? ORDER BY seq DESC LIMIT ?", ["s", 10, 5]]
      ])
      const plan = (rows: ReadonlyArray<Record<string, unknown>> | undefined) => (rows ?? []).map((r) => String(r.detail)).join(" | ")
      expect(plan(system)).toMatch(/USING (COVERING )?INDEX messages_system/)
      expect(plan(recent)).toMatch(/USING INDEX sqlite_autoindex_messages_1/)
      expect(plan(system) + plan(recent)).not.toMatch(/TEMP B-TREE/)
    }))
})
