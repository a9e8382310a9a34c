import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { StartHistory } from "../../../src/home/StartHistory.js"
import { backoffCap, historyLimit, nextHistory, type RespawnPolicy, respawnVerdict } from "../../../src/lifecycle/RespawnStorm.js"
import { recordStart, serveBackoff, startupDeadline } from "../../../src/lifecycle/StartGate.js"
import { SystemdNotify } from "../../../src/supervision/SystemdNotify.js"

const now = Date.parse("2026-12-05T00:00:00.000Z")
const policy: RespawnPolicy = { maxStarts: 5, window: Duration.seconds(120) }
const capMs = Duration.toMillis(backoffCap)
/** `n` starts spread over the last `spanMs` (all inside the window when spanMs < window). */
const startsWithin = (n: number, spanMs: number) => Array.from({ length: n }, (_, i) => now - Math.floor((spanMs * (i + 1)) / (n + 1)))
const waitMs = (starts: ReadonlyArray<number>, p = policy) => {
  const verdict = respawnVerdict(starts, now, p)
  return verdict._tag === "Wait" ? Duration.toMillis(verdict.wait) : 0
}

describe("respawnVerdict", () => {
  it("lets up to max_starts + 1 starts within the window go at once; the next waits window / max_starts", () => {
    expect(respawnVerdict([], now, policy)).toEqual({ _tag: "Go", recent: 0 })
    expect(respawnVerdict(startsWithin(5, 60_000), now, policy)._tag).toBe("Go")
    expect(respawnVerdict(startsWithin(6, 60_000), now, policy)).toEqual({ _tag: "Wait", recent: 6, wait: Duration.millis(24_000) })
  })

  it("forgets starts older than the window", () => {
    const old = Array.from({ length: 50 }, (_, i) => now - 120_000 - i * 1000)
    expect(respawnVerdict(old, now, policy)).toEqual({ _tag: "Go", recent: 0 })
    expect(respawnVerdict([...old, ...startsWithin(5, 10_000)], now, policy)).toEqual({ _tag: "Go", recent: 5 })
  })

  it("window 0 turns the breaker off", () => {
    expect(respawnVerdict(startsWithin(100, 1000), now, { maxStarts: 1, window: Duration.zero })._tag).toBe("Go")
  })

  it("a start recorded far in the future (clock stepped back) does not count", () => {
    expect(respawnVerdict(Array.from({ length: 20 }, () => now + 10 * 120_000), now, policy)._tag).toBe("Go")
  })

  it.prop("the wait doubles per extra start, up to the 300s cap", {
    maxStarts: fc.integer({ min: 1, max: 100 }),
    windowMs: fc.integer({ min: 1000, max: 3_600_000 }),
    extra: fc.integer({ min: 1, max: 40 })
  }, ({ extra, maxStarts, windowMs }) => {
    const p = { maxStarts, window: Duration.millis(windowMs) }
    const starts = startsWithin(maxStarts + extra, windowMs - 1)
    const one = waitMs(starts, p)
    const next = waitMs(startsWithin(maxStarts + extra + 1, windowMs - 1), p)
    expect(one).toBeGreaterThan(0)
    expect(one).toBeLessThanOrEqual(capMs)
    const exact = (k: number) => Math.min(capMs, Math.ceil((windowMs / maxStarts) * 2 ** (k - 1)))
    expect(one).toBe(exact(extra))
    expect(next).toBe(exact(extra + 1))
    expect(next).toBeGreaterThanOrEqual(one)
    if (next < capMs) expect(Math.abs(next - 2 * one)).toBeLessThanOrEqual(1)
  })

  it.prop("never negative, never above the cap, whatever the history holds", {
    starts: fc.array(fc.oneof(fc.integer({ min: now - 10_000_000, max: now + 10_000_000 }), fc.constant(Number.NaN)), { maxLength: 300 }),
    maxStarts: fc.integer({ min: 1, max: 100 }),
    windowMs: fc.integer({ min: 0, max: 86_400_000 })
  }, ({ maxStarts, starts, windowMs }) => {
    const verdict = respawnVerdict(starts, now, { maxStarts, window: Duration.millis(windowMs) })
    const ms = verdict._tag === "Wait" ? Duration.toMillis(verdict.wait) : 0
    expect(ms).toBeGreaterThanOrEqual(0)
    expect(ms).toBeLessThanOrEqual(capMs)
    // only starts inside the window count
    expect(verdict.recent).toBe(starts.filter((t) => t > now - windowMs && t < now + windowMs).length)
  })

  it.prop("the kept history is bounded, sorted, and ends with this start", {
    starts: fc.array(fc.integer({ min: now - 1_000_000, max: now }), { maxLength: 400 })
  }, ({ starts }) => {
    const kept = nextHistory(starts, now, policy.window)
    expect(kept.length).toBeLessThanOrEqual(historyLimit)
    expect(kept[kept.length - 1]).toBe(now)
    expect([...kept].sort((a, b) => a - b)).toEqual(kept)
    expect(kept.every((t) => t > now - 120_000)).toBe(true)
  })
})

describe("start gate on TestClock", () => {
  const layer = (starts: Ref.Ref<ReadonlyArray<number>>) =>
    Layer.mergeAll(StartHistory.memory(starts), SystemdNotify.recording([]))

  it.effect("a storm of starts earns doubling waits that last exactly that long on the clock", () =>
    Effect.gen(function*() {
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const p: RespawnPolicy = { maxStarts: 4, window: Duration.minutes(4) }
      const waits: Array<number> = []
      for (let i = 0; i < 9; i++) {
        const verdict = yield* recordStart(p).pipe(Effect.provide(layer(starts)))
        const wait = verdict._tag === "Wait" ? Duration.toMillis(verdict.wait) : 0
        waits.push(wait)
        const fiber = yield* Effect.fork(serveBackoff(verdict, p, Duration.seconds(1)).pipe(Effect.provide(layer(starts))))
        if (wait > 0) {
          yield* TestClock.adjust(Duration.millis(wait - 1))
          expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
          yield* TestClock.adjust(Duration.millis(1))
        }
        yield* Fiber.join(fiber)
      }
      // base 4min / 4 = 60s, doubled per extra start; the waits themselves carry the clock on, until
      // the early starts leave the window and the ninth start goes at once
      expect(waits).toEqual([0, 0, 0, 0, 0, 60_000, 120_000, 240_000, 0])
      expect(yield* Ref.get(starts)).toEqual([420_000])
    }))

  it.effect("waits double with each start beyond max_starts, and a quiet window resets them", () =>
    Effect.gen(function*() {
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const p: RespawnPolicy = { maxStarts: 3, window: Duration.seconds(30) }
      const waits: Array<number> = []
      for (let i = 0; i < 6; i++) {
        const verdict = yield* recordStart(p).pipe(Effect.provide(layer(starts)))
        waits.push(verdict._tag === "Wait" ? Duration.toMillis(verdict.wait) : 0)
      }
      expect(waits).toEqual([0, 0, 0, 0, 10_000, 20_000])
      yield* TestClock.adjust(Duration.seconds(31))
      const after = yield* recordStart(p).pipe(Effect.provide(layer(starts)))
      expect(after).toEqual({ _tag: "Go", recent: 0 })
    }))

  it.effect("a wait ends at once when interrupted (a stop request during the backoff)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(
        serveBackoff({ _tag: "Wait", recent: 9, wait: backoffCap }, policy, Duration.seconds(1)).pipe(
          Effect.provide(SystemdNotify.recording([]))
        )
      )
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.interrupt(fiber)
      expect(Option.isSome(yield* Fiber.poll(fiber))).toBe(true)
    }))

  it("the start-up deadline adds the respawn wait, and 0 turns it off", () => {
    expect(startupDeadline(Duration.zero, { _tag: "Wait", recent: 9, wait: Duration.seconds(5) })).toEqual(Option.none())
    expect(startupDeadline(undefined, { _tag: "Go", recent: 0 })).toEqual(Option.none())
    expect(startupDeadline(Duration.seconds(10), { _tag: "Wait", recent: 9, wait: Duration.seconds(5) }))
      .toEqual(Option.some(Duration.seconds(15)))
  })
})
