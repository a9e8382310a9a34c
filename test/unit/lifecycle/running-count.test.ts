// The running-turn count without a lock: admission at the limit, reports that always end on the
// current number whatever order fibers run in, and a wait for room that never misses a departure.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { makeRunningCount } from "../../../src/lifecycle/RunningCount.js"

/**
 * A count whose reports are recorded as [count read at record time, change]. The i-th report first
 * yields `delays[i]` times (cycling), so reports finish in another order than the changes came.
 */
const recorded = (limit: number, delays: ReadonlyArray<number> = [0]) => {
  const reports: Array<readonly [number, 1 | -1]> = []
  let made = 0
  const count = makeRunningCount(limit, (change, current) => {
    const delay = delays[made++ % delays.length]!
    return Effect.zipRight(Effect.repeatN(Effect.yieldNow(), delay), Effect.sync(() => void reports.push([current(), change])))
  })
  return { count, reports }
}

/** Yields the scheduler a few times: every fiber that can run, runs. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("running count", () => {
  it.effect("a bounded turn is refused at the limit and nothing is counted or reported; an unbounded one always counts", () =>
    Effect.gen(function*() {
      const { count, reports } = recorded(2)
      expect(yield* count.admit(true)).toBe(true)
      expect(yield* count.admit(true)).toBe(true)
      expect(yield* count.admit(true)).toBe(false)
      expect(yield* count.current).toBe(2)
      expect(reports).toEqual([[1, 1], [2, 1]])
      expect(yield* count.admit(false)).toBe(true)
      expect(yield* count.current).toBe(3)
      yield* count.leave
      expect(reports.at(-1)).toEqual([2, -1])
    }))

  it.effect.prop(
    "whatever order concurrent turns come and go in, and their reports finish in, the last report tells the current count",
    [
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 0, max: 4 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 8 })
    ],
    ([turns, limit, delays]) =>
      Effect.gen(function*() {
        const { count, reports } = recorded(limit, delays)
        // Each turn: admitted (bounded or not), stays for a few scheduler rounds, leaves.
        const fibers = yield* Effect.forEach(turns, ([bounded, stay]) =>
          Effect.fork(Effect.gen(function*() {
            if (!(yield* count.admit(bounded))) return
            yield* Effect.repeatN(Effect.yieldNow(), stay)
            yield* count.leave
          })))
        yield* Fiber.joinAll(fibers)
        yield* settle
        expect(yield* count.current).toBe(0)
        const admitted = reports.filter(([, change]) => change === 1).length
        expect(reports.filter(([, change]) => change === -1).length).toBe(admitted)
        if (reports.length > 0) expect(reports.at(-1)![0]).toBe(0)
      }),
    { fastCheck: { numRuns: 200 } }
  )

  it.effect("a platform waiting for room waits while the limit is reached, and goes on when a turn leaves", () =>
    Effect.gen(function*() {
      const { count } = recorded(2)
      yield* count.admit(true)
      yield* count.admit(true)
      const waiter = yield* Effect.fork(count.awaitRoom)
      yield* settle
      expect(Option.isNone(yield* Fiber.poll(waiter))).toBe(true)
      yield* count.leave
      yield* Fiber.join(waiter)
      // With room already, the wait ends at once; without a limit there is always room.
      yield* count.awaitRoom
      const unlimited = recorded(0).count
      yield* Effect.repeatN(unlimited.admit(true), 9)
      yield* unlimited.awaitRoom
    }))

  it.effect.prop(
    "waiters started at any moment among departures all go on once there is room: no departure is missed",
    [fc.array(fc.constantFrom("wait", "leave", "yield"), { minLength: 1, maxLength: 24 })],
    ([steps]) =>
      Effect.gen(function*() {
        const limit = 2
        const { count } = recorded(limit)
        const admitted = steps.filter((step) => step === "leave").length + limit
        yield* Effect.repeatN(count.admit(false), admitted - 1)
        const waiters: Array<Fiber.RuntimeFiber<void>> = []
        for (const step of steps) {
          if (step === "wait") waiters.push(yield* Effect.fork(count.awaitRoom))
          else if (step === "leave") yield* Effect.fork(count.leave)
          else yield* Effect.yieldNow()
        }
        // Exactly `limit` turns are left: no room yet, so every waiter still waits.
        yield* settle
        expect(yield* count.current).toBe(limit)
        for (const waiter of waiters) expect(Option.isNone(yield* Fiber.poll(waiter))).toBe(true)
        yield* count.leave
        yield* Fiber.joinAll(waiters)
      }),
    { fastCheck: { numRuns: 200 } }
  )
})
