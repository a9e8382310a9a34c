import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FastCheck from "effect/FastCheck"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"
import {
  type BotApiError,
  BotApiPermanent,
  BotApiRateLimited,
  BotApiTransient
} from "../../../../src/adapters/telegram/BotApi.js"
import { backoffStep, retrySchedule, type RetryPolicy } from "../../../../src/adapters/telegram/BotApiRetry.js"
import { retryWhileReachable } from "../../../../src/adapters/telegram/Poller.js"
import { makeStatusCell } from "../../../../src/adapters/telegram/TelegramStatus.js"

const unavailable = new BotApiTransient({ method: "getUpdates", status: 502, message: "getUpdates failed: 502 Bad Gateway" })
const limited = (seconds: number) =>
  new BotApiRateLimited({ method: "getUpdates", status: 429, message: "getUpdates failed: 429 Too Many Requests", retryAfter: Duration.seconds(seconds) })

/** The delays the schedule picks for these failures, in milliseconds (no sleeping: Schedule.run). */
const delaysFor = (policy: RetryPolicy, errors: ReadonlyArray<BotApiError>, attempts?: number) =>
  Effect.map(Schedule.run(Schedule.delays(retrySchedule(policy, attempts)), 0, errors), (out) => Chunk.toReadonlyArray(out).map(Duration.toMillis))

/** A call that fails with `errors` in turn, then succeeds; counts its calls. */
const scriptedCall = (errors: ReadonlyArray<BotApiError>) =>
  Effect.map(Ref.make(0), (calls) => ({
    calls,
    call: Effect.flatMap(Ref.getAndUpdate(calls, (n) => n + 1), (n): Effect.Effect<string, BotApiError> =>
      n < errors.length ? Effect.fail(errors[n]!) : Effect.succeed("ok"))
  }))

describe("the Bot API retry schedule", () => {
  it.effect.prop(
    "each delay is the step base·2^n capped, jittered to between half of it and all of it",
    [FastCheck.integer({ min: 1, max: 2_000 }), FastCheck.integer({ min: 1, max: 120_000 }), FastCheck.integer({ min: 1, max: 40 })],
    ([base, capAbove, failures]) =>
      Effect.gen(function*() {
        const policy = { base: Duration.millis(base), cap: Duration.millis(base + capAbove) }
        const delays = yield* delaysFor(policy, Array.from({ length: failures }, () => unavailable))
        expect(delays.length).toBe(failures)
        delays.forEach((delay, n) => {
          const step = Duration.toMillis(backoffStep(policy, n))
          expect(step).toBeLessThanOrEqual(base + capAbove)
          expect(delay).toBeGreaterThanOrEqual(step * 0.5 - 1e-6)
          expect(delay).toBeLessThanOrEqual(step + 1e-6)
        })
      }),
    { fastCheck: { numRuns: 100 } }
  )

  it.effect("the jitter really varies: forty delays at the cap are not all alike", () =>
    Effect.gen(function*() {
      const policy = { base: Duration.seconds(1), cap: Duration.seconds(1) }
      const delays = yield* delaysFor(policy, Array.from({ length: 40 }, () => unavailable))
      expect(new Set(delays).size).toBeGreaterThan(1)
    }))

  it.effect("a 429's retry_after replaces the backoff, exactly and unjittered, wherever it comes", () =>
    Effect.gen(function*() {
      const policy = { base: Duration.millis(100), cap: Duration.seconds(1) }
      const delays = yield* delaysFor(policy, [unavailable, limited(7), unavailable, limited(0)])
      expect(delays[1]).toBe(7_000)
      expect(delays[3]).toBe(0)
      expect(delays[2]).toBeLessThanOrEqual(400)
    }))

  it.effect("attempts bounds the calls in all: three attempts, then the last error", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* scriptedCall(Array.from({ length: 9 }, () => unavailable))
      const fiber = yield* Effect.fork(Effect.flip(Effect.retry(call, retrySchedule({ base: Duration.millis(10), cap: Duration.millis(10) }, 3))))
      for (let i = 0; i < 5; i++) yield* TestClock.adjust(Duration.millis(10))
      expect(yield* Fiber.join(fiber)).toBe(unavailable)
      expect(yield* Ref.get(calls)).toBe(3)
    }))

  it.effect("under the TestClock, the call after a 429 waits retry_after and not a moment less", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* scriptedCall([limited(3)])
      const fiber = yield* Effect.fork(Effect.retry(call, retrySchedule({ base: Duration.millis(10), cap: Duration.millis(20) })))
      yield* TestClock.adjust(Duration.millis(2_999))
      expect(yield* Ref.get(calls)).toBe(1)
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Ref.get(calls)).toBe(2)
    }))
})

describe("retryWhileReachable (the poller's and the handshake's retries)", () => {
  const policy = { base: Duration.millis(100), cap: Duration.seconds(1) }

  it.effect("shows 'retrying' with the error and Telegram's wait, then succeeds", () =>
    Effect.gen(function*() {
      const cell = yield* makeStatusCell
      const { call, calls } = yield* scriptedCall([limited(5)])
      const fiber = yield* Effect.fork(retryWhileReachable(call, cell, policy))
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* SubscriptionRef.get(cell.status)).toMatchObject({ state: "retrying", error: limited(5).message, retryInMs: 5_000 })
      expect(yield* SubscriptionRef.get(cell.health)).toEqual({ state: "retrying", error: limited(5).message })
      yield* TestClock.adjust(Duration.seconds(5))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Ref.get(calls)).toBe(2)
    }))

  it.effect("a rejected token is not retried: it fails at once", () =>
    Effect.gen(function*() {
      const cell = yield* makeStatusCell
      const rejected = new BotApiPermanent({ method: "getUpdates", status: 401, message: "getUpdates failed: 401 Unauthorized" })
      const { call, calls } = yield* scriptedCall([rejected, rejected])
      const error = yield* Effect.flip(retryWhileReachable(call, cell, policy))
      expect(error).toBe(rejected)
      expect(yield* Ref.get(calls)).toBe(1)
    }))

  it.effect("keeps trying for as long as the Bot API is down, however long", () =>
    Effect.gen(function*() {
      const cell = yield* makeStatusCell
      const { call, calls } = yield* scriptedCall(Array.from({ length: 50 }, () => unavailable))
      const fiber = yield* Effect.fork(retryWhileReachable(call, cell, policy))
      // 50 waits of at most the 1 s cap.
      for (let i = 0; i < 50; i++) yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* Ref.get(calls)).toBe(51)
    }))
})
