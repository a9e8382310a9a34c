// The state file and systemd follow the lifecycle state machine (StatusFollowers.ts) instead of
// polling it: a change is on disk within one coalescing interval, and a burst of changes costs a
// handful of writes, not one per change.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { emptyMemoryHome, HomeStore, memoryHomeStore } from "../../../src/home/HomeStore.js"
import { Life, makeLife } from "../../../src/lifecycle/Life.js"
import { ready } from "../../../src/lifecycle/LifecycleState.js"
import { coalesceWrites, StatusFollowersLayer } from "../../../src/lifecycle/StatusFollowers.js"
import { Watchdog } from "../../../src/lifecycle/Watchdog.js"
import { SystemdNotify } from "../../../src/supervision/SystemdNotify.js"
import { testSettings } from "./TestSettings.js"

const running = () =>
  Effect.gen(function*() {
    const events: Array<string> = []
    const home = emptyMemoryHome()
    const notified: Array<string> = []
    const fired = yield* Ref.make(Option.none<string>())
    const services = Layer.mergeAll(
      Layer.succeed(HomeStore, memoryHomeStore(home, (e) => events.push(e))),
      SystemdNotify.recording(notified),
      Watchdog.test(fired)
    )
    const life = yield* makeLife(testSettings, () => Effect.void).pipe(Effect.provide(services))
    yield* life.writeState
    yield* Layer.build(StatusFollowersLayer.pipe(Layer.provide(Layer.succeed(Life, life))))
    yield* life.transition(ready)
    yield* TestClock.adjust(coalesceWrites)
    return { life, home, events, notified }
  })

const writes = (events: ReadonlyArray<string>) => events.filter((e) => e.startsWith("state:")).length

describe("state file follows the lifecycle", () => {
  it.scoped("running and READY=1 follow the transition without anyone writing them", () =>
    Effect.gen(function*() {
      const { home, notified } = yield* running()
      expect(home.state?.gateway_state).toBe("running")
      expect(notified).toContain("READY=1 STATUS=running (pid 4242)")
    }))

  it.scoped("active_turns is back to 0 within 300 ms after the last turn ends (no one-second poller)", () =>
    Effect.gen(function*() {
      const { home, life } = yield* running()
      yield* life.update((s) => ({ ...s, activeTurns: 1 }))
      yield* TestClock.adjust(Duration.millis(50))
      expect(home.state?.active_turns).toBe(1)
      yield* life.update((s) => ({ ...s, activeTurns: 0 }))
      yield* TestClock.adjust(Duration.millis(250))
      expect(home.state?.active_turns).toBe(0)
    }))

  it.scoped("a burst of changes is coalesced: the last one is written, not every one", () =>
    Effect.gen(function*() {
      const { events, home, life } = yield* running()
      const before = writes(events)
      for (let n = 1; n <= 200; n++) yield* life.update((s) => ({ ...s, activeTurns: n }))
      yield* TestClock.adjust(Duration.times(coalesceWrites, 3))
      expect(home.state?.active_turns).toBe(200)
      expect(writes(events) - before).toBeLessThanOrEqual(3)
    }))

  it.scoped("an unchanged status is not written again", () =>
    Effect.gen(function*() {
      const { events, life } = yield* running()
      const before = writes(events)
      yield* life.update((s) => ({ ...s }))
      yield* life.writeState
      yield* TestClock.adjust(coalesceWrites)
      expect(writes(events)).toBe(before)
    }))
})
