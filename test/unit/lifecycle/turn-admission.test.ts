// Back-pressure (gateway.max_inflight_turns): with the limit reached, a new message is refused at
// once with outcome Refused "busy" and nothing is recorded; as soon as a turn ends, one is taken
// again. Resumed turns are never refused for it. 0 means no limit.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import type { InboundMessage, TurnEvent } from "../../../src/adapters/TurnIntake.js"
import { Agent } from "../../../src/agents/Agent.js"
import { makeTurnSupervisor } from "../../../src/lifecycle/TurnSupervisor.js"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"

const message = (text: string): InboundMessage => ({ platform: "http", sessionKey: undefined, text, history: [] })

/** An agent that answers each turn only when the test releases it, oldest first. */
const heldAgent = Effect.gen(function*() {
  const waiting: Array<Deferred.Deferred<void>> = []
  const agent = Layer.succeed(Agent, {
    model: "held",
    respond: () =>
      Stream.unwrap(Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        waiting.push(gate)
        yield* Deferred.await(gate)
        return Stream.make("ok")
      }))
  })
  /** Lets one held turn answer, once one is held. */
  const releaseOne = Effect.gen(function*() {
    yield* waitUntil(() => waiting.length > 0)
    yield* Deferred.succeed(waiting.shift()!, undefined)
  })
  return { agent, releaseOne }
})

/** Yields to the other fibers until `fact` holds (they need no clock to get there). */
const waitUntil = (fact: () => boolean) => Effect.yieldNow().pipe(Effect.repeat({ until: fact }))

/** Until the supervisor counts `n` running turns. */
const untilActive = (active: Effect.Effect<number>, n: number) =>
  active.pipe(Effect.tap(() => Effect.yieldNow()), Effect.repeat({ until: (now) => now === n }))

/** Submits and reads the stream until its first event: Accepted, or (refused) the Outcome. */
const firstEvent = (events: Stream.Stream<TurnEvent, unknown>) =>
  Effect.gen(function*() {
    const first = yield* Deferred.make<TurnEvent>()
    yield* Stream.runForEach(events, (event) => Deferred.succeed(first, event)).pipe(Effect.forkScoped)
    return { first: yield* Deferred.await(first) }
  })

describe("turn admission", () => {
  it.scoped("refuses the third message at once while two turns run, and takes one again when a turn ends", () =>
    Effect.gen(function*() {
      const { agent, releaseOne } = yield* heldAgent
      const journal = emptyJournal()
      const supervisor = yield* makeTurnSupervisor(memorySessionDb(journal), undefined, { maxInflightTurns: 2 }).pipe(
        Effect.provide(agent)
      )
      const a = yield* firstEvent(supervisor.intake.submit(message("a")))
      const b = yield* firstEvent(supervisor.intake.submit(message("b")))
      expect([a.first._tag, b.first._tag]).toEqual(["Accepted", "Accepted"])
      const refused = yield* Stream.runCollect(supervisor.intake.submit(message("c")))
      expect(Chunk.toReadonlyArray(refused)).toEqual([
        expect.objectContaining({ _tag: "Outcome", outcome: expect.objectContaining({ _tag: "Refused", reason: "busy" }) })
      ])
      // Nothing of the refused message was recorded.
      expect(journal.turns.size).toBe(2)
      yield* releaseOne
      yield* untilActive(supervisor.active, 1)
      yield* supervisor.intake.awaitRoom ?? Effect.void
      const d = yield* firstEvent(supervisor.intake.submit(message("d")))
      expect(d.first._tag).toBe("Accepted")
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))

  it.scoped.prop(
    "for any limit and any order of messages and turn ends, a message is refused exactly when the limit is reached",
    [fc.integer({ min: 0, max: 4 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 })],
    ([limit, ops]) =>
      Effect.gen(function*() {
        const { agent, releaseOne } = yield* heldAgent
        const supervisor = yield* makeTurnSupervisor(memorySessionDb(emptyJournal()), undefined, { maxInflightTurns: limit }).pipe(
          Effect.provide(agent)
        )
        let running = 0
        for (const submit of ops) {
          if (submit) {
            const { first } = yield* firstEvent(supervisor.intake.submit(message("m")))
            const expected = limit === 0 || running < limit ? "Accepted" : "Outcome"
            expect(first._tag).toBe(expected)
            if (expected === "Accepted") running += 1
            else expect(first).toMatchObject({ outcome: { _tag: "Refused", reason: "busy" } })
          } else if (running > 0) {
            yield* releaseOne
            running -= 1
            yield* untilActive(supervisor.active, running)
          }
          expect(yield* supervisor.active).toBe(running)
        }
      }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))),
    { fastCheck: { numRuns: 40 } }
  )
})
