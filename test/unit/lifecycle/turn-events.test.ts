// A turn as its reader sees it: for any agent behaviour (chunks, reports, a failure, a bug, a hang)
// and an interruption at any moment, the stream says Accepted once before anything else and one
// Outcome last; and the journal records the end even when the reader stopped reading early.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { TurnEvent, type TurnOutcome } from "../../../src/adapters/TurnIntake.js"
import { Agent, AgentError } from "../../../src/agents/Agent.js"
import { makeTurnSupervisor, type TurnSupervisor } from "../../../src/lifecycle/TurnSupervisor.js"
import { emptyJournal, type MemoryJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"

/** What the agent does next, each step 10 ms after the one before. */
type Step =
  | { readonly _tag: "Chunk"; readonly text: string }
  | { readonly _tag: "Report"; readonly model: string }
  | { readonly _tag: "Fail" }
  | { readonly _tag: "Die" }
  | { readonly _tag: "Hang" }

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 4 }).map((text) => ({ _tag: "Chunk", text }) as const), weight: 6 },
  { arbitrary: fc.constantFrom("m1", "m2").map((model) => ({ _tag: "Report", model }) as const), weight: 1 },
  { arbitrary: fc.constant({ _tag: "Fail" } as const), weight: 1 },
  { arbitrary: fc.constant({ _tag: "Die" } as const), weight: 1 },
  { arbitrary: fc.constant({ _tag: "Hang" } as const), weight: 1 }
)

interface Scenario {
  readonly steps: ReadonlyArray<Step>
  /** When the gateway interrupts every turn (ms after submission), if it does; recording takes 5 ms. */
  readonly interruptAtMs: number | null
  /** How many events the reader takes before it stops reading, if it stops early. */
  readonly readerStopsAfter: number | null
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  steps: fc.array(step, { maxLength: 8 }),
  // Even, while the journal and the steps end at odd times (5, 15, 25 ...): no ties.
  interruptAtMs: fc.option(fc.integer({ min: 0, max: 60 }).map((n) => n * 2), { nil: null }),
  readerStopsAfter: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null })
})

const scriptedAgent = (steps: ReadonlyArray<Step>) =>
  Layer.succeed(Agent, {
    model: "configured",
    respond: (request) =>
      Stream.fromIterable(steps).pipe(
        Stream.mapEffect((next) =>
          Effect.zipRight(
            Effect.sleep(Duration.millis(10)),
            Effect.gen(function*() {
              switch (next._tag) {
                case "Chunk":
                  return [next.text]
                case "Report":
                  if (request.onReport) yield* request.onReport({ model: next.model })
                  return []
                case "Fail":
                  return yield* new AgentError({ message: "model server down" })
                case "Die":
                  return yield* Effect.die(new Error("a bug"))
                case "Hang":
                  return yield* Effect.never
              }
            })
          )
        ),
        Stream.flattenIterables
      )
  })

/** The memory journal with recording taking 5 ms, so an interruption can land before it. */
const slowToRecord = (journal: MemoryJournal) => {
  const db = memorySessionDb(journal)
  return { ...db, beginTurn: (inbound: Parameters<typeof db.beginTurn>[0]) => Effect.zipRight(Effect.sleep("5 millis"), db.beginTurn(inbound)) }
}

/** The end the journal must show for an ended turn, from the script alone. */
const expectedStatus = (s: Scenario): "completed" | "failed" | "interrupted" => {
  const end = s.steps.findIndex((x) => x._tag === "Fail" || x._tag === "Die" || x._tag === "Hang")
  // The step at index i ends at 5 + 10 * (i + 1) ms.
  const endsAt = 5 + 10 * ((end === -1 ? s.steps.length : end + 1))
  const hangs = end !== -1 && s.steps[end]!._tag === "Hang"
  if (s.interruptAtMs !== null && (hangs || s.interruptAtMs < endsAt)) return "interrupted"
  if (end === -1) return "completed"
  return hangs ? "interrupted" : "failed"
}

const checkOrder = (events: ReadonlyArray<TurnEvent>) => {
  const tags = events.map((e) => e._tag)
  expect(tags.filter((t) => t === "Outcome")).toHaveLength(1)
  expect(tags.at(-1)).toBe("Outcome")
  const accepted = tags.filter((t) => t === "Accepted").length
  expect(accepted).toBeLessThanOrEqual(1)
  const outcome = (events.at(-1) as Extract<TurnEvent, { _tag: "Outcome" }>).outcome
  // Recorded by this turn exactly when it was accepted, and accepted before anything else.
  const recorded = outcome._tag === "Completed" || outcome._tag === "Failed" || outcome._tag === "Interrupted"
  expect(accepted).toBe(recorded ? 1 : 0)
  if (accepted === 1) expect(tags[0]).toBe("Accepted")
  if (outcome._tag === "Completed") {
    const text = events.flatMap((e) => (e._tag === "Chunk" ? [e.text] : [])).join("")
    expect(text).toBe(outcome.reply)
  }
  return outcome
}

/** A supervisor on an empty memory journal whose agent replies with `chunks`. */
const supervisorReplying = (...chunks: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const journal = emptyJournal()
    const agent = Layer.succeed(Agent, { model: "m", respond: () => Stream.fromIterable(chunks) })
    const supervisor = yield* makeTurnSupervisor(memorySessionDb(journal)).pipe(Effect.provide(agent))
    return { journal, supervisor }
  })

/** The interruption is timed from the turn's start: waits until it has started, then schedules it. */
const scheduleInterruption = (s: Scenario, supervisor: TurnSupervisor) =>
  Effect.gen(function*() {
    yield* Effect.zipRight(Effect.yieldNow(), supervisor.active).pipe(Effect.repeat({ until: (n) => n > 0 }))
    if (s.interruptAtMs !== null) {
      yield* Effect.fork(Effect.zipRight(Effect.sleep(Duration.millis(s.interruptAtMs)), supervisor.interruptAll("test stop")))
    }
  })

/**
 * Lets the scenario play out; a hang ends only by an interruption, which the scenario may lack: the
 * gateway's stop then.
 */
const playOut = (s: Scenario, supervisor: TurnSupervisor) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(Duration.seconds(10))
    if (s.interruptAtMs === null) yield* supervisor.interruptAll("test end")
  })

/** After the scenario: nothing is left running or counted. */
const expectSettled = (supervisor: TurnSupervisor) =>
  Effect.gen(function*() {
    const never = yield* Deferred.make<void>()
    expect((yield* supervisor.drain(Duration.infinity, never)).left).toBe(0)
    expect(yield* supervisor.active).toBe(0)
  })

/** When a caller that leaves does: at an odd time, never tied with the agent's steps or the interruption. */
const leavesAtMsOf = (s: Scenario): number | null => s.readerStopsAfter === null ? null : s.readerStopsAfter * 10 + 1

const silent = Logger.replace(Logger.defaultLogger, Logger.none)

const hi = { platform: "http", sessionKey: undefined, text: "hi", history: [] }

describe("turn events", () => {
  it.effect.prop("one Accepted before any chunk, one Outcome last, and the journal records the end whoever reads", [scenario], ([s]) =>
    Effect.gen(function*() {
      const journal = emptyJournal()
      const supervisor = yield* makeTurnSupervisor(slowToRecord(journal)).pipe(Effect.provide(scriptedAgent(s.steps)))
      const events = supervisor.intake.submit({ platform: "http", sessionKey: undefined, text: "hi", history: [] })
      const reader = yield* (s.readerStopsAfter === null ? events : Stream.take(events, s.readerStopsAfter)).pipe(
        Stream.runCollect,
        Effect.either,
        Effect.fork
      )
      yield* scheduleInterruption(s, supervisor)
      yield* playOut(s, supervisor)
      const read = yield* Fiber.join(reader)
      yield* expectSettled(supervisor)

      const turns = [...journal.turns.values()]
      if (Either.isLeft(read)) {
        // Stopped before its message was recorded: there is no turn, and nothing was said.
        expect(read.left._tag).toBe("IntakeClosed")
        expect(turns).toHaveLength(0)
        expect(s.interruptAtMs).toBeLessThan(5)
        return
      }
      const seen = Chunk.toReadonlyArray(read.right)
      if (s.readerStopsAfter === null) {
        const outcome: TurnOutcome = checkOrder(seen)
        expect(turns.map((t) => t.status)).toEqual([outcome._tag.toLowerCase()])
      } else {
        // A reader that left early saw a prefix of the same order.
        const accepted = seen.findIndex((e) => e._tag === "Accepted")
        expect(accepted).toBeLessThanOrEqual(0)
        if (seen.length > 0) expect(seen[0]!._tag).toBe("Accepted")
      }
      if (s.interruptAtMs !== null && s.interruptAtMs < 5) {
        expect(turns).toHaveLength(0)
      } else {
        expect(turns.map((t) => t.status)).toEqual([expectedStatus(s)])
      }
    }).pipe(Effect.scoped, Effect.provide(silent)), { fastCheck: { numRuns: 100 } })

  it.scoped("a reader that stops reading holds back nothing: the turn ends and is recorded, every event waits for it", () =>
    Effect.gen(function*() {
      const journal = emptyJournal()
      const chunks = Array.from({ length: 500 }, (_, i) => `c${i} `)
      const agent = Layer.succeed(Agent, { model: "m", respond: () => Stream.fromIterable(chunks) })
      const supervisor = yield* makeTurnSupervisor(memorySessionDb(journal)).pipe(Effect.provide(agent))
      const stalled = yield* Deferred.make<void>()
      const resume = yield* Deferred.make<void>()
      const reader = yield* supervisor.intake.submit({ platform: "http", sessionKey: undefined, text: "hi", history: [] }).pipe(
        // The reader stalls on the first event until the turn is over.
        Stream.tap((event) =>
          event._tag === "Accepted" ? Effect.zipRight(Deferred.succeed(stalled, undefined), Deferred.await(resume)) : Effect.void
        ),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(stalled)
      const never = yield* Deferred.make<void>()
      expect((yield* supervisor.drain(Duration.infinity, never)).ended).toBe("empty")
      expect([...journal.turns.values()].map((t) => t.status)).toEqual(["completed"])
      yield* Deferred.succeed(resume, undefined)
      const events = Chunk.toReadonlyArray(yield* Fiber.join(reader))
      const outcome = checkOrder(events)
      expect(outcome).toMatchObject({ _tag: "Completed", reply: chunks.join("") })
    }).pipe(Effect.provide(silent)))

  it.effect.prop("answer: the outcome the events end with, and a caller that leaves takes nothing with it", [scenario], ([s]) =>
    Effect.gen(function*() {
      const journal = emptyJournal()
      const supervisor = yield* makeTurnSupervisor(slowToRecord(journal)).pipe(Effect.provide(scriptedAgent(s.steps)))
      const caller = yield* Effect.fork(Effect.either(supervisor.intake.answer(hi)))
      yield* scheduleInterruption(s, supervisor)
      const leavesAtMs = leavesAtMsOf(s)
      if (leavesAtMs !== null) yield* Effect.fork(Effect.zipRight(Effect.sleep(Duration.millis(leavesAtMs)), Fiber.interrupt(caller)))
      yield* playOut(s, supervisor)
      const exit = yield* Fiber.await(caller)
      yield* expectSettled(supervisor)

      const statuses = [...journal.turns.values()].map((t) => t.status)
      const unrecorded = s.interruptAtMs !== null && s.interruptAtMs < 5
      expect(statuses).toEqual(unrecorded ? [] : [expectedStatus(s)])
      if (Exit.isFailure(exit)) {
        // Only a caller that left has no answer, and its turn was recorded all the same (above).
        expect(leavesAtMs).not.toBeNull()
        return
      }
      const answer = exit.value
      if (Either.isLeft(answer)) {
        expect(answer.left._tag).toBe("IntakeClosed")
        expect(unrecorded).toBe(true)
      } else {
        expect(unrecorded).toBe(false)
        expect(answer.right._tag.toLowerCase()).toBe(expectedStatus(s))
        if (answer.right._tag === "Completed") {
          expect(answer.right.reply).toBe(s.steps.flatMap((x) => (x._tag === "Chunk" ? [x.text] : [])).join(""))
          expect(answer.right.model).toBe([...s.steps].reverse().find((x) => x._tag === "Report")?.model)
        }
      }
    }).pipe(Effect.scoped, Effect.provide(silent)), { fastCheck: { numRuns: 100 } })

  it.effect.prop(
    "follow: the calls are the submitted order's events before its Outcome, then the outcome; a caller that leaves gets no more calls",
    [scenario],
    ([s]) =>
      Effect.gen(function*() {
        const journal = emptyJournal()
        const supervisor = yield* makeTurnSupervisor(slowToRecord(journal)).pipe(Effect.provide(scriptedAgent(s.steps)))
        const calls: Array<TurnEvent> = []
        const caller = yield* Effect.fork(Effect.either(supervisor.intake.follow(hi, (event) => void calls.push(event))))
        yield* scheduleInterruption(s, supervisor)
        const leavesAtMs = leavesAtMsOf(s)
        const callsWhenLeft: Array<number> = []
        if (leavesAtMs !== null) {
          yield* Effect.fork(Effect.zipRight(
            Effect.sleep(Duration.millis(leavesAtMs)),
            Effect.zipRight(Fiber.interrupt(caller), Effect.sync(() => void callsWhenLeft.push(calls.length)))
          ))
        }
        yield* playOut(s, supervisor)
        const exit = yield* Fiber.await(caller)
        yield* expectSettled(supervisor)

        const unrecorded = s.interruptAtMs !== null && s.interruptAtMs < 5
        expect([...journal.turns.values()].map((t) => t.status)).toEqual(unrecorded ? [] : [expectedStatus(s)])
        if (Exit.isFailure(exit)) {
          // A caller that left was told nothing after it left, and its turn was recorded all the same.
          expect(leavesAtMs).not.toBeNull()
          expect(calls.length).toBe(callsWhenLeft[0])
          if (calls.length > 0) expect(calls[0]!._tag).toBe("Accepted")
          return
        }
        const answer = exit.value
        if (Either.isLeft(answer)) {
          expect(answer.left._tag).toBe("IntakeClosed")
          expect(unrecorded).toBe(true)
          expect(calls).toEqual([])
          return
        }
        // The calls and the outcome are the order a submitted turn's stream has (checkOrder).
        const outcome = checkOrder([...calls, TurnEvent.Outcome({ outcome: answer.right })])
        expect(outcome._tag.toLowerCase()).toBe(expectedStatus(s))
      }).pipe(Effect.scoped, Effect.provide(silent)),
    { fastCheck: { numRuns: 100 } }
  )

  it.scoped("a follower that throws loses its view, and the turn is answered and recorded all the same", () =>
    Effect.gen(function*() {
      const { journal, supervisor } = yield* supervisorReplying("a", "b")
      const calls: Array<string> = []
      const outcome = yield* supervisor.intake.follow(hi, (event) => {
        calls.push(event._tag)
        if (event._tag === "Chunk") throw new Error("a broken platform")
      })
      expect(outcome).toMatchObject({ _tag: "Completed", reply: "ab" })
      expect(calls).toEqual(["Accepted", "Chunk"])
      expect([...journal.turns.values()].map((t) => t.status)).toEqual(["completed"])
    }).pipe(Effect.provide(silent)))

  it.scoped("after the intake closed, submit, answer and follow each fail with IntakeClosed, tell nothing and record nothing", () =>
    Effect.gen(function*() {
      const { journal, supervisor } = yield* supervisorReplying("x")
      yield* supervisor.closeIntake
      const seen: Array<string> = []
      const submitted = yield* supervisor.intake.submit(hi).pipe(
        Stream.runForEach((event) => Effect.sync(() => seen.push(event._tag))),
        Effect.flip
      )
      const answered = yield* Effect.flip(supervisor.intake.answer(hi))
      const followed = yield* Effect.flip(supervisor.intake.follow(hi, (event) => void seen.push(event._tag)))
      expect([submitted._tag, answered._tag, followed._tag]).toEqual(["IntakeClosed", "IntakeClosed", "IntakeClosed"])
      expect(seen).toEqual([])
      expect(journal.turns.size).toBe(0)
    }))
})
