// A gateway given no adapter at all (issue "Hostile input", item 11): a configuration mistake, so
// exit 78 (never restarted), not 69 (restarted after a delay, for ever, to the same result). The
// config schema refuses it first; this is the kernel's own guard for any other caller.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { Agent } from "../../../src/agents/Agent.js"
import { Forensics } from "../../../src/forensics/Forensics.js"
import { emptyMemoryHome, HomeStore, memoryHomeStore } from "../../../src/home/HomeStore.js"
import { exitCodeOf } from "../../../src/lifecycle/ExitCode.js"
import { runGateway } from "../../../src/lifecycle/Gateway.js"
import { type ProcessSignal, Signals } from "../../../src/lifecycle/Signals.js"
import { Watchdog } from "../../../src/lifecycle/Watchdog.js"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"
import { SessionStore } from "../../../src/sessions/SessionStore.js"
import { SystemdNotify } from "../../../src/supervision/SystemdNotify.js"
import { testSettings } from "./TestSettings.js"

describe("no adapter", () => {
  it.effect("start-up fails with a configuration error: exit 78", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.unbounded<ProcessSignal>()
      const fired = yield* Ref.make(Option.none<string>())
      const db = memorySessionDb(emptyJournal())
      const exit = yield* runGateway(testSettings).pipe(
        Effect.provide(Layer.mergeAll(
          Layer.succeed(HomeStore, memoryHomeStore(emptyMemoryHome(), () => undefined)),
          Signals.fromQueue(queue),
          Watchdog.test(fired),
          SystemdNotify.recording([]),
          Forensics.test(),
          Layer.succeed(SessionStore, { open: () => Effect.succeed(db) }),
          Layer.succeed(Agent, { model: "test", respond: () => Stream.make("done") })
        )),
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(exitCodeOf(exit)).toBe(78)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain("no adapter is enabled")
    }))
})
