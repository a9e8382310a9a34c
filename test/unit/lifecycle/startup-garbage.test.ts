// Start-up's garbage is collected once, shortly after ready, and only while the gateway is quiet.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { emptyMemoryHome, HomeStore, memoryHomeStore } from "../../../src/home/HomeStore.js"
import { Life, makeLife } from "../../../src/lifecycle/Life.js"
import { ready, startupFailed } from "../../../src/lifecycle/LifecycleState.js"
import { collectStartupGarbageWith, fullCollection, startupGarbageDelay } from "../../../src/lifecycle/StartupGarbage.js"
import { Watchdog } from "../../../src/lifecycle/Watchdog.js"
import { SystemdNotify } from "../../../src/supervision/SystemdNotify.js"
import { testSettings } from "./TestSettings.js"

/** A ready life, and a collector that counts its calls, collecting after the delay in a fiber. */
const readyLife = Effect.gen(function*() {
  const services = Layer.mergeAll(
    Layer.succeed(HomeStore, memoryHomeStore(emptyMemoryHome(), () => {})),
    SystemdNotify.recording([]),
    Watchdog.test(yield* Ref.make(Option.none<string>()))
  )
  const life = yield* makeLife(testSettings, () => Effect.void).pipe(Effect.provide(services))
  yield* life.transition(ready)
  const calls = { count: 0 }
  const collector = collectStartupGarbageWith(() => () => void calls.count++).pipe(Effect.provideService(Life, life))
  return { life, calls, collector }
})

const justBefore = Duration.subtract(startupGarbageDelay, Duration.millis(1))

describe("start-up garbage", () => {
  it.effect("a quiet running gateway collects once, when the delay has passed and not before", () =>
    Effect.gen(function*() {
      const { calls, collector } = yield* readyLife
      const fiber = yield* Effect.fork(collector)
      yield* TestClock.adjust(justBefore)
      expect(calls.count).toBe(0)
      yield* TestClock.adjust(Duration.millis(1))
      yield* Fiber.join(fiber)
      expect(calls.count).toBe(1)
      yield* TestClock.adjust(Duration.seconds(60))
      expect(calls.count).toBe(1)
    }))

  it.effect("a turn in flight at that moment: nothing is collected", () =>
    Effect.gen(function*() {
      const { life, calls, collector } = yield* readyLife
      const fiber = yield* Effect.fork(collector)
      yield* life.update((status) => ({ ...status, activeTurns: 1 }))
      yield* TestClock.adjust(startupGarbageDelay)
      yield* Fiber.join(fiber)
      expect(calls.count).toBe(0)
    }))

  it.effect("a stop already begun: nothing is collected (the stop is not made longer)", () =>
    Effect.gen(function*() {
      const { life, calls, collector } = yield* readyLife
      const fiber = yield* Effect.fork(collector)
      yield* life.transition(startupFailed)
      yield* TestClock.adjust(startupGarbageDelay)
      yield* Fiber.join(fiber)
      expect(calls.count).toBe(0)
    }))

  it.live("this Node collects on request: an object only a WeakRef holds is gone after it", () =>
    Effect.gen(function*() {
      const collect = fullCollection()
      expect(collect).toBeTypeOf("function")
      // Made in an earlier job: V8 keeps a WeakRef's target alive until the job that created it ends.
      const ref = new WeakRef({ payload: new Array(1000).fill("start-up") })
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      collect!()
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      expect(ref.deref()).toBeUndefined()
      // The flag changes nothing for the contexts already running.
      expect((globalThis as { gc?: unknown }).gc).toBeUndefined()
    }))
})
