// The shutdown record's turns_drained counts every turn that ended on its own after the stop was
// decided, also one that ends before the drain phase begins (while the clean-shutdown marker is
// being written, say). Under load this is what happened in the end-to-end drain test: the marker
// write left the event loop free, the turn finished, and the record said 0 drained. Here the order is
// forced with latches: the marker write lets the turn finish and waits until it has.
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { Adapter } from "../../../src/adapters/Adapter.js"
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
import { runWithHooks } from "./TurnHooks.js"

const budget = {
  drain: Duration.seconds(30),
  adapterConnect: Duration.seconds(5),
  adapterDisconnect: Duration.seconds(5),
  dbClose: Duration.seconds(5),
  markerTtl: Duration.seconds(60)
}

/**
 * One gateway, one turn in flight, a Ctrl+C; `whileMarkerIsWritten` runs inside the clean-shutdown
 * marker's write (phase 1) with the latch that lets the agent answer. Returns the shutdown record.
 */
const stopWithOneTurn = (
  whileMarkerIsWritten: (release: Effect.Effect<void>, ended: Effect.Effect<void>) => Effect.Effect<void>,
  drain: Duration.Duration = budget.drain
) =>
  Effect.gen(function*() {
    const accepted = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const ended = yield* Deferred.make<string>()
    const home = emptyMemoryHome()
    const memory = memoryHomeStore(home)
    const store = {
      ...memory,
      writeCleanShutdown: (doc: Parameters<typeof memory.writeCleanShutdown>[0]) =>
        whileMarkerIsWritten(Deferred.succeed(release, undefined).pipe(Effect.asVoid), Deferred.await(ended).pipe(Effect.asVoid)).pipe(
          Effect.zipRight(memory.writeCleanShutdown(doc))
        )
    }
    const adapter: Adapter = {
      name: "http",
      connect: Effect.succeed({}),
      startIntake: (intake) =>
        runWithHooks(
          intake.submit({ platform: "http", sessionKey: undefined, text: "hello", history: [] }),
          { onAccepted: () => Deferred.succeed(accepted, undefined) }
        ).pipe(
          Effect.map((outcome) => outcome._tag),
          Effect.catchTag("IntakeClosed", () => Effect.succeed("closed")),
          Effect.flatMap((tag) => Deferred.succeed(ended, tag)),
          Effect.forkDaemon,
          Effect.asVoid
        ),
      stopIntake: Effect.void,
      notifyInFlight: () => Effect.void,
      disconnect: Effect.void
    }
    const queue = yield* Queue.unbounded<ProcessSignal>()
    const gateway = yield* runGateway({
      budget: { ...budget, drain },
      self: { pid: 4242, startTime: "777" },
      argv: [],
      adapters: [adapter],
      supervisor: null,
      resumeWindow: Duration.hours(1),
      agentLabel: "test"
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(HomeStore, store),
        Signals.fromQueue(queue),
        Watchdog.test(yield* Ref.make(Option.none<string>())),
        SystemdNotify.recording([]),
        Forensics.test(),
        Layer.succeed(SessionStore, { open: () => Effect.succeed(memorySessionDb(emptyJournal())) }),
        Layer.succeed(Agent, { model: "test", respond: () => Stream.fromEffect(Deferred.await(release).pipe(Effect.as("done"))) })
      )),
      Effect.exit,
      Effect.fork
    )
    yield* Deferred.await(accepted)
    yield* Queue.offer(queue, "SIGINT")
    const exit = yield* Fiber.join(gateway)
    const shutdown = home.lifecycle.find((record) => record.event === "shutdown")
    return { exit, shutdown, outcome: yield* Deferred.await(ended) }
  })

describe("turns_drained", () => {
  it.live("a turn that ends while the clean-shutdown marker is written counts as drained, not as nothing", () =>
    Effect.gen(function*() {
      const { exit, outcome, shutdown } = yield* stopWithOneTurn((release, ended) => release.pipe(Effect.zipRight(ended)))
      expect(outcome).toBe("Completed")
      expect(Exit.isSuccess(exit) ? 0 : exitCodeOf(exit)).toBe(0)
      expect(shutdown).toMatchObject({ classification: "planned", turns_drained: 1, turns_interrupted: 0 })
    }))

  it.live("a turn cut by the drain deadline is interrupted, not drained (the count falls then too)", () =>
    Effect.gen(function*() {
      // The agent is never let through; a drain of zero cuts the turn at once.
      const { exit, outcome, shutdown } = yield* stopWithOneTurn(() => Effect.void, Duration.zero)
      expect(outcome).toBe("Interrupted")
      expect(Exit.isSuccess(exit) ? 0 : exitCodeOf(exit)).toBe(0)
      expect(shutdown).toMatchObject({ turns_drained: 0, turns_interrupted: 1, deadline_fired: "drain" })
    }))
})
