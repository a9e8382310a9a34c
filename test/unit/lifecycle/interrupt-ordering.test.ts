// Property tests of the shutdown order (CONTRACT 5) on TestClock: random adapters (latency,
// failures, hangs), random in-flight turns, drain deadlines, first and second signals and marker
// states. The kernel runs with in-memory services that log every step in order, and writes its turns
// to the real SQL journal (the production engine, on a temporary file): adapter 0 is the HTTP
// platform (request/response: a cut turn is `interrupted`), the others push platforms that record a
// reply reference and the delivery (a cut turn is `resume_pending`). A second life on the same
// database then gets what the first left as its carryover, resumes and delivers it, and leaves
// nothing behind.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { type Adapter, AdapterConnectError, type Carryover, type TurnOutcome } from "../../../src/adapters/Adapter.js"
import { Agent } from "../../../src/agents/Agent.js"
import { emptyMemoryHome, HomeStore, memoryHomeStore } from "../../../src/home/HomeStore.js"
import { exitCodeOf } from "../../../src/lifecycle/ExitCode.js"
import { runGateway } from "../../../src/lifecycle/Gateway.js"
import { hardDeadline, type ShutdownBudget } from "../../../src/lifecycle/ShutdownBudget.js"
import { type ProcessSignal, Signals } from "../../../src/lifecycle/Signals.js"
import { Watchdog } from "../../../src/lifecycle/Watchdog.js"
import { SystemdNotify } from "../../../src/supervision/SystemdNotify.js"
import { Forensics } from "../../../src/forensics/Forensics.js"
import type { SessionDbService } from "../../../src/sessions/SessionDb.js"
import { resolveEngine } from "../../../src/sessions/SqliteEngine.js"
import { openSqliteSessionDb } from "../../../src/sessions/SqliteSessionStore.js"
import { SessionStore } from "../../../src/sessions/SessionStore.js"
import { dbFile, openLife, tempHome } from "../sessions/harness.js"

/** The engine a gateway on this Node picks ("auto"). */
const engine = resolveEngine("auto")
/** Adapter 0 answers on the request itself; the others push their answers to chats. */
const platformOf = (i: number) => (i === 0 ? "http" : `a${i}`)
const isPush = (platform: string) => platform !== "http"

type Outcome = "ok" | "fail" | "hang" | "hang-uninterruptible"

interface AdapterSpec {
  readonly connectMs: number
  readonly connect: Outcome
  readonly disconnectMs: number
  readonly disconnect: Outcome
  /** `delivers`: a push adapter records that the answer reached the chat (false: it died first, say). */
  readonly turns: ReadonlyArray<{ readonly atMs: number; readonly agentMs: number; readonly delivers: boolean }>
}

type MarkerState = "none" | "self-stop" | "self-restart" | "other-process" | "expired" | "garbage"

interface Scenario {
  readonly adapters: ReadonlyArray<AdapterSpec>
  readonly drainMs: number
  readonly dbClose: { readonly ms: number; readonly outcome: Outcome }
  readonly firstSignal: { readonly atMs: number; readonly signal: "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGUSR1" }
  readonly marker: MarkerState
  readonly secondSignalAfterMs: number | null
}

// Connect/turn times are multiples of 10 ms and signal times end in 5, so no two events tie.
const tens = (max: number) => fc.integer({ min: 0, max: max / 10 }).map((n) => n * 10)
const fives = (max: number) => fc.integer({ min: 0, max: max / 10 }).map((n) => n * 10 + 5)
const outcome = (weights: [number, number, number, number]) =>
  fc.oneof(
    { arbitrary: fc.constant<Outcome>("ok"), weight: weights[0] },
    { arbitrary: fc.constant<Outcome>("fail"), weight: weights[1] },
    { arbitrary: fc.constant<Outcome>("hang"), weight: weights[2] },
    { arbitrary: fc.constant<Outcome>("hang-uninterruptible"), weight: weights[3] }
  )

const scenario: fc.Arbitrary<Scenario> = fc.record({
  adapters: fc.array(
    fc.record({
      connectMs: tens(1500),
      connect: outcome([8, 1, 1, 0]),
      disconnectMs: tens(1500),
      disconnect: outcome([6, 2, 1, 1]),
      turns: fc.array(fc.record({ atMs: tens(3000), agentMs: tens(5000), delivers: fc.boolean() }), { maxLength: 4 })
    }),
    { minLength: 1, maxLength: 4 }
  ),
  drainMs: tens(4000),
  dbClose: fc.record({ ms: tens(1500), outcome: outcome([8, 1, 1, 0]) }),
  firstSignal: fc.record({
    atMs: fives(5000),
    signal: fc.constantFrom("SIGTERM" as const, "SIGINT" as const, "SIGHUP" as const, "SIGUSR1" as const)
  }),
  marker: fc.constantFrom<MarkerState>("none", "self-stop", "self-restart", "other-process", "expired", "garbage"),
  secondSignalAfterMs: fc.option(fives(3000), { nil: null })
})

const budget: ShutdownBudget = {
  drain: Duration.seconds(0),
  adapterConnect: Duration.seconds(2),
  adapterDisconnect: Duration.seconds(1),
  dbClose: Duration.seconds(1),
  markerTtl: Duration.seconds(60)
}

const self = { pid: 4242, startTime: "777" }
const canonicalPhases = [
  "clean_shutdown_marker",
  "stop_intake",
  "notify_chats",
  "drain",
  "interrupt_turns",
  "disconnect_adapters",
  "close_session_db",
  "final_state"
]

/** An oracle written from CONTRACT 3.1/3.2 tables, independent of the code under test. */
const expectedExitCode = (s: Scenario, startupFailsAt: number | null): number => {
  if (startupFailsAt !== null && startupFailsAt < s.firstSignal.atMs) return 69
  switch (s.firstSignal.signal) {
    case "SIGINT":
      return 0
    case "SIGUSR1":
      return 75
    default:
      return s.marker === "self-stop" ? 0 : s.marker === "self-restart" ? 75 : 1
  }
}

const hang = (o: Outcome) => o === "hang-uninterruptible" ? Effect.never.pipe(Effect.uninterruptible) : Effect.never

const runScenario = (s: Scenario) =>
  Effect.gen(function*() {
    const events: Array<string> = []
    const log = (event: string) => Effect.sync(() => void events.push(event))
    const home = emptyMemoryHome()
    const now = 1_000_000
    const markerDoc = (pid: number, startTime: string, action: "stop" | "restart", ageMs: number) => ({
      target_pid: pid,
      target_start_time: startTime,
      action,
      stopper_pid: 1,
      written_at: new Date(now - ageMs).toISOString()
    })
    const store = memoryHomeStore(home, (e) => events.push(e))
    const storeWithMarker: typeof store = {
      ...store,
      readPlannedStop: Effect.sync(() => {
        switch (s.marker) {
          case "none":
            return { _tag: "Missing" as const }
          case "garbage":
            return { _tag: "Invalid" as const, reason: "garbage" }
          case "self-stop":
            return { _tag: "Valid" as const, value: markerDoc(self.pid, self.startTime, "stop", 0) }
          case "self-restart":
            return { _tag: "Valid" as const, value: markerDoc(self.pid, self.startTime, "restart", 0) }
          case "other-process":
            return { _tag: "Valid" as const, value: markerDoc(self.pid + 1, self.startTime, "stop", 0) }
          case "expired":
            return { _tag: "Valid" as const, value: markerDoc(self.pid, self.startTime, "stop", 120_000) }
        }
      })
    }
    const file = dbFile(yield* tempHome)
    // Opened here rather than by the kernel: opening may load the engine asynchronously, which
    // TestClock cannot order with the scenario's virtual times. Closed again after life 1 (its close
    // may have been made to hang).
    const opened = yield* Effect.orDie(openSqliteSessionDb(file, { engine }, { previousLifeCrashed: false }))
    const sessions = Layer.succeed(SessionStore, {
      open: () =>
        Effect.succeed(opened).pipe(
          Effect.map((db): SessionDbService => {
            return {
              ...db,
              close: log("db:close:start").pipe(
                Effect.zipRight(
                  s.dbClose.outcome === "ok"
                    ? Effect.sleep(Duration.millis(s.dbClose.ms))
                    : s.dbClose.outcome === "fail"
                    ? Effect.sleep(Duration.millis(s.dbClose.ms)).pipe(Effect.zipRight(Effect.dieMessage("close failed")))
                    : hang(s.dbClose.outcome)
                ),
                Effect.zipRight(db.close),
                Effect.zipRight(log("db:close:end"))
              )
            }
          })
        )
    })
    const agent = Layer.succeed(Agent, {
      model: "test",
      respond: (request) =>
        Stream.fromEffect(
          Effect.sleep(Duration.millis(Number(request.messages[request.messages.length - 1]!.content))).pipe(
            Effect.as("done")
          )
        )
    })
    const outcomes: Array<{ adapter: number; outcome: TurnOutcome | "closed" }> = []
    const adapters: Array<Adapter> = s.adapters.map((spec, i) => ({
      name: platformOf(i),
      connect: Effect.gen(function*() {
        yield* log(`a${i}:connect`)
        if (spec.connect === "hang" || spec.connect === "hang-uninterruptible") return yield* hang(spec.connect)
        yield* Effect.sleep(Duration.millis(spec.connectMs))
        if (spec.connect === "fail") {
          return yield* new AdapterConnectError({ adapter: `a${i}`, message: "refused", exitCode: 69 })
        }
        return {}
      }),
      startIntake: (intake) =>
        Effect.forEach(spec.turns, (turn) =>
          Effect.sleep(Duration.millis(turn.atMs)).pipe(
            Effect.zipRight(intake.submit(
              { platform: platformOf(i), sessionKey: undefined, text: String(turn.agentMs), history: [] },
              {
                // A push platform posts a placeholder and records it, as Telegram does.
                onAccepted: (ids) =>
                  log(`turn:${ids.turnId}:accepted`).pipe(
                    Effect.zipRight(isPush(platformOf(i)) ? intake.replyRef(ids, `placeholder-${ids.turnId}`) : Effect.void)
                  )
              }
            )),
            Effect.tap((o) => log(o._tag === "Refused" ? `turn:refused:${o.reason}` : `turn:${o.ids.turnId}:${o._tag}`)),
            // A push platform records that an ended turn's answer reached the chat (not a cut one).
            Effect.tap((o) =>
              !isPush(platformOf(i)) || !(o._tag === "Completed" || o._tag === "Failed")
                ? Effect.void
                : turn.delivers
                ? intake.delivered(o.ids).pipe(Effect.zipRight(log(`turn:${o.ids.turnId}:delivered`)))
                : log(`turn:${o.ids.turnId}:undelivered`)
            ),
            Effect.catchTag("IntakeClosed", () => Effect.succeed("closed" as const)),
            Effect.tap((o) => Effect.sync(() => void outcomes.push({ adapter: i, outcome: o }))),
            Effect.forkDaemon
          ), { discard: true }).pipe(Effect.zipLeft(log(`a${i}:start_intake`))),
      stopIntake: log(`a${i}:stop_intake`),
      notifyInFlight: () => log(`a${i}:notify`),
      disconnect: Effect.gen(function*() {
        yield* log(`a${i}:disconnect:start`)
        if (spec.disconnect === "hang" || spec.disconnect === "hang-uninterruptible") return yield* hang(spec.disconnect)
        yield* Effect.sleep(Duration.millis(spec.disconnectMs))
        if (spec.disconnect === "fail") return yield* Effect.dieMessage("disconnect failed")
        yield* log(`a${i}:disconnect:end`)
      })
    }))

    const queue = yield* Queue.unbounded<ProcessSignal>()
    const fired = yield* Ref.make(Option.none<string>())
    const notified: Array<string> = []
    const scenarioBudget = { ...budget, drain: Duration.millis(s.drainMs) }
    yield* TestClock.setTime(now)
    const gateway = yield* runGateway({
      budget: scenarioBudget,
      self,
      argv: [],
      adapters,
      supervisor: null,
      resumeWindow: Duration.hours(1),
      agentLabel: "test"
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(HomeStore, storeWithMarker),
        Signals.fromQueue(queue),
        Watchdog.test(fired),
        SystemdNotify.recording(notified),
        Forensics.test(),
        sessions,
        agent
      )),
      Effect.fork
    )
    yield* Effect.sleep(Duration.millis(s.firstSignal.atMs)).pipe(
      Effect.zipRight(log("signal:first")),
      Effect.zipRight(Queue.offer(queue, s.firstSignal.signal)),
      Effect.zipRight(
        s.secondSignalAfterMs === null
          ? Effect.void
          : Effect.sleep(Duration.millis(s.secondSignalAfterMs)).pipe(
            Effect.zipRight(log("signal:second")),
            Effect.zipRight(Queue.offer(queue, "SIGTERM"))
          )
      ),
      Effect.fork
    )
    yield* TestClock.adjust(Duration.minutes(5))
    const exit = yield* Fiber.poll(gateway)
    yield* Effect.ignore(opened.close)
    // What life 1 left in the database, read by a fresh open (as the next life would).
    const left = yield* readJournal(file)
    const second = yield* secondLife(file)
    return { events, home, left, second, outcomes, exit, fired: yield* Ref.get(fired), scenarioBudget, notified }
  })

/** Every turn and the backlog of the database at `file`, closed again after reading. */
const readJournal = (file: string) =>
  Effect.scoped(Effect.gen(function*() {
    const db = yield* Effect.orDie(openLife(file, engine))
    const turns = yield* Effect.orDie(db.turns())
    const backlog = yield* Effect.orDie(db.backlog)
    return { turns, backlog }
  }))

/**
 * Life 2 on the same database: each push adapter acts on its carryover (resumes what was cut,
 * delivers what was answered but not delivered) and records the deliveries; a SIGINT after every
 * resumed turn could have ended (agent times are at most 5 s) stops it.
 */
const secondLife = (file: string) =>
  Effect.gen(function*() {
    const carried: Array<Carryover> = []
    const resumed: Array<{ readonly turnId: string; readonly outcome: TurnOutcome | "closed" }> = []
    const db = yield* Effect.orDie(openSqliteSessionDb(file, { engine }, { previousLifeCrashed: false }))
    const sessions = Layer.succeed(SessionStore, { open: () => Effect.succeed(db) })
    const agent = Layer.succeed(Agent, {
      model: "test",
      respond: (request) =>
        Stream.fromEffect(
          Effect.sleep(Duration.millis(Number(request.messages[request.messages.length - 1]!.content))).pipe(Effect.as("done"))
        )
    })
    const adapters: Array<Adapter> = [0, 1, 2, 3].map((i) => ({
      name: platformOf(i),
      connect: Effect.succeed({}),
      startIntake: (intake, context) =>
        Effect.forEach(context.carryover, (item) =>
          Effect.sync(() => void carried.push(item)).pipe(
            Effect.zipRight(
              item._tag === "Resume"
                ? intake.resume(item.ids.turnId).pipe(
                  Effect.tap((o) => (o._tag === "Completed" || o._tag === "Failed" ? intake.delivered(o.ids) : Effect.void)),
                  Effect.catchTag("IntakeClosed", () => Effect.succeed("closed" as const)),
                  Effect.tap((outcome) => Effect.sync(() => void resumed.push({ turnId: item.ids.turnId, outcome })))
                )
                : intake.delivered(item.ids)
            )
          ), { discard: true }).pipe(Effect.forkDaemon, Effect.asVoid),
      stopIntake: Effect.void,
      notifyInFlight: () => Effect.void,
      disconnect: Effect.void
    }))
    const queue = yield* Queue.unbounded<ProcessSignal>()
    const life = yield* runGateway({
      budget: { ...budget, drain: Duration.seconds(30) },
      self: { pid: self.pid + 1, startTime: "778" },
      argv: [],
      adapters,
      supervisor: null,
      resumeWindow: Duration.hours(1),
      agentLabel: "test"
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(HomeStore, memoryHomeStore(emptyMemoryHome(), () => {})),
        Signals.fromQueue(queue),
        Watchdog.test(yield* Ref.make(Option.none<string>())),
        SystemdNotify.recording([]),
        Forensics.test(),
        sessions,
        agent
      )),
      Effect.fork
    )
    yield* Effect.sleep(Duration.seconds(10)).pipe(Effect.zipRight(Queue.offer(queue, "SIGINT")), Effect.fork)
    yield* TestClock.adjust(Duration.minutes(5))
    const exit = yield* Fiber.poll(life)
    yield* Effect.ignore(db.close)
    const after = yield* readJournal(file)
    return { carried, resumed, exit, after }
  })

/** When start-up fails on its own (every adapter fails to connect), in virtual ms. */
const startupFailureTime = (s: Scenario): number | null => {
  if (!s.adapters.every((a) => a.connect !== "ok")) return null
  return Math.max(...s.adapters.map((a) => (a.connect === "fail" ? a.connectMs : Duration.toMillis(budget.adapterConnect))))
}

const indexOf = (events: ReadonlyArray<string>, predicate: (e: string) => boolean) => events.findIndex(predicate)

/** How often the runs took each path, summed over the property's runs (checked after them). */
const coverage = { resumed: 0, httpInterrupted: 0, delivered: 0, deliveredByLife2: 0 }

describe("shutdown ordering (property)", () => {
  it.effect.prop(
    "keeps CONTRACT 5 order and the exit-code table under random adapters, turns and signals",
    [scenario],
    ([s]) =>
      Effect.gen(function*() {
        const t0 = Date.now()
        const r = yield* Effect.scoped(runScenario(s))
        if (process.env.DEBUG_TIMING) console.log(Date.now() - t0, Option.isSome(r.exit), JSON.stringify(s))
        if (process.env.DEBUG_SCENARIO) console.log(JSON.stringify({ events: r.events, exit: r.exit, home: r.home }, null, 1))
        expect(Option.isSome(r.exit), "the gateway finished within 5 virtual minutes").toBe(true)
        const exit = Option.getOrThrow(r.exit)
        const events = r.events
        const startupFailsAt = startupFailureTime(s)

        // the exit code equals the table's verdict; the last planned stop wins over a restart while
        // the decision is open (a SIGTERM with a stop marker naming self after SIGUSR1). The model
        // only logs when it sends the second signal, not when the gateway reads it, so a signal sent
        // before the final state was written may land on either side of the freeze; after it, 75.
        const code = exitCodeOf(exit)
        const expected = expectedExitCode(s, startupFailsAt)
        const second = events.indexOf("signal:second")
        const finalState = events.indexOf("state:stopped")
        const stopMayWin = expected === 75 && s.firstSignal.signal === "SIGUSR1" && s.marker === "self-stop" &&
          second >= 0 && (finalState === -1 || second < finalState)
        if (stopMayWin) expect([0, 75]).toContain(code)
        else expect(code).toBe(expected)

        // the clean-shutdown marker is written before any other shutdown step (there always is one:
        // every adapter's connect starts at once, so every life disconnects and writes a final state)
        const marker = events.indexOf("clean_shutdown")
        expect(marker).toBeGreaterThanOrEqual(0)
        const firstTeardown = indexOf(events, (e) =>
          e.endsWith(":stop_intake") || e.endsWith(":notify") || e.includes(":disconnect:") || e.startsWith("db:close") ||
          e === "lock:release" || e === "state:stopped" || e === "state:startup_failed")
        expect(firstTeardown).toBeGreaterThan(marker)
        expect(events[marker + 1]).toBe("state:draining")
        // systemd hears STOPPING=1 with the first step, and READY=1 exactly when start-up completed
        expect(r.notified.some((m) => m.startsWith("STOPPING=1"))).toBe(true)
        const ready = r.notified.findIndex((m) => m.startsWith("READY=1"))
        expect(ready < r.notified.findIndex((m) => m.startsWith("STOPPING=1"))).toBe(true)
        // (an unplanned stop also leaves "running" as the final state: only one written before the
        // shutdown began says that start-up completed)
        const runningBeforeStop = events.indexOf("state:running") >= 0 && events.indexOf("state:running") < marker
        expect(ready >= 0, "READY=1 exactly when start-up completed").toBe(runningBeforeStop)

        // phases ran in the contract's order (a start-up abandoned early skips some)
        const report = r.home.lifecycle.find((l) => l.event === "shutdown") as { phases: Array<{ name: string }> } | undefined
        expect(report).toBeDefined()
        const names = report!.phases.map((p) => p.name)
        const positions = names.map((n) => canonicalPhases.indexOf(n))
        expect(positions.every((p) => p >= 0)).toBe(true)
        expect([...positions].sort((a, b) => a - b)).toEqual(positions)
        expect(names[0]).toBe("clean_shutdown_marker")

        // every adapter's connect was attempted, and each gets a disconnect attempt, even if others fail or hang
        for (let i = 0; i < s.adapters.length; i++) {
          expect(events).toContain(`a${i}:connect`)
          expect(events).toContain(`a${i}:disconnect:start`)
        }
        // intake stops (for every adapter whose intake started) before the drain, and no adapter
        // disconnects before the drain ends: every turn reached its end before the first disconnect began
        const firstDisconnect = indexOf(events, (e) => e.includes(":disconnect:start"))
        for (let i = 0; i < s.adapters.length; i++) {
          if (!events.includes(`a${i}:start_intake`)) continue
          const stopped = events.indexOf(`a${i}:stop_intake`)
          expect(stopped, `a${i} started its intake, so it stops it`).toBeGreaterThanOrEqual(0)
          expect(stopped).toBeLessThan(firstDisconnect)
        }
        const turnEnds = events
          .map((e, i) => ({ e, i }))
          .filter(({ e }) => /^turn:.*:(Completed|Interrupted|Failed)$/.test(e))
        for (const end of turnEnds) expect(end.i).toBeLessThan(firstDisconnect)

        // the SessionDB step runs after all adapters
        const dbClose = events.indexOf("db:close:start")
        expect(dbClose).toBeGreaterThanOrEqual(0)
        events.forEach((e, i) => {
          if (e.includes(":disconnect:")) expect(i).toBeLessThan(dbClose)
        })

        // teardown stays within the hard deadline
        expect(Option.getOrNull(r.fired)).toBeNull()
        const took = (report as unknown as { took_ms: number }).took_ms
        expect(took).toBeLessThanOrEqual(Duration.toMillis(hardDeadline(r.scenarioBudget)))

        // every accepted turn is in the SQL journal and ended: completed, failed, or cut by the
        // shutdown (interrupted on the HTTP platform, resume_pending on a push platform); none vanishes,
        // none is left running
        const recorded = new Map(r.left.turns.map((t) => [t.id, t]))
        for (const turn of r.left.turns) {
          const cut = isPush(turn.platform) ? "resume_pending" : "interrupted"
          expect(["completed", "failed", cut], `turn ${turn.id} on ${turn.platform}`).toContain(turn.status)
          expect(turn.delivery).toBe(isPush(turn.platform) ? "push" : "request_response")
        }
        for (const { outcome } of r.outcomes) {
          // the journal never refuses here; a refusal would be a turn that vanished
          if (outcome === "closed") continue
          expect(outcome._tag).not.toBe("Refused")
          if (outcome._tag === "Refused") continue
          const turn = recorded.get(outcome.ids.turnId)
          expect(turn, `turn ${outcome.ids.turnId} is in the journal`).toBeDefined()
          const cut = isPush(turn!.platform) ? "resume_pending" : "interrupted"
          expect(turn!.status).toBe(outcome._tag === "Completed" ? "completed" : outcome._tag === "Interrupted" ? cut : "failed")
        }
        const accepted = events.filter((e) => e.endsWith(":accepted")).length
        expect(r.left.turns.length).toBe(accepted)

        // what life 1 left for the next: every push turn cut short, and push answers not recorded as
        // delivered; an answer whose delivery was recorded before the database closed is not among them
        const backlog = new Set(r.left.backlog.map((t) => t.ids.turnId))
        for (const turn of r.left.turns) {
          if (turn.status === "resume_pending") expect(backlog.has(turn.id), `cut push turn ${turn.id} carried over`).toBe(true)
          if (!isPush(turn.platform)) expect(backlog.has(turn.id), `HTTP turn ${turn.id} never carried over`).toBe(false)
          const delivered = events.indexOf(`turn:${turn.id}:delivered`)
          if (delivered >= 0 && delivered < dbClose) expect(backlog.has(turn.id), `delivered turn ${turn.id}`).toBe(false)
          if (events.includes(`turn:${turn.id}:undelivered`)) expect(backlog.has(turn.id), `undelivered turn ${turn.id}`).toBe(true)
        }

        // life 2 gets exactly that backlog as its carryover, resumes every cut turn to completion,
        // delivers the rest, stops as planned (0) and leaves nothing behind
        const life2 = r.second
        expect(Option.isSome(life2.exit), "life 2 finished within 5 virtual minutes").toBe(true)
        expect(exitCodeOf(Option.getOrThrow(life2.exit))).toBe(0)
        expect(life2.carried.map((c) => c.ids.turnId).sort()).toEqual([...backlog].sort())
        for (const item of life2.carried) {
          const turn = recorded.get(item.ids.turnId)!
          expect(item._tag).toBe(turn.status === "resume_pending" ? "Resume" : "Deliver")
        }
        const resumable = r.left.turns.filter((t) => t.status === "resume_pending").map((t) => t.id).sort()
        expect(life2.resumed.map((x) => x.turnId).sort()).toEqual(resumable)
        for (const { outcome } of life2.resumed) expect(outcome === "closed" ? outcome : outcome._tag).toBe("Completed")
        expect(life2.after.backlog).toEqual([])
        coverage.resumed += resumable.length
        coverage.httpInterrupted += r.left.turns.filter((t) => t.status === "interrupted").length
        coverage.delivered += events.filter((e) => e.endsWith(":delivered")).length
        coverage.deliveredByLife2 += life2.carried.filter((c) => c._tag === "Deliver").length
        const finalStatus = new Map(life2.after.turns.map((t) => [t.id, t.status]))
        expect(life2.after.turns.length).toBe(r.left.turns.length)
        for (const turn of r.left.turns) {
          expect(finalStatus.get(turn.id), `turn ${turn.id} after life 2`).toBe(turn.status === "resume_pending" ? "completed" : turn.status)
        }

        // the lock is released last, after the final state
        const gatewayEvents = events.filter((e) => !e.startsWith("signal:"))
        expect(gatewayEvents.indexOf("lock:release")).toBe(gatewayEvents.length - 1)
      }),
    {
      // Two lives and three opens of a real database per run: generous, for a loaded machine.
      timeout: 300_000,
      fastCheck: {
        numRuns: 60,
        ...(process.env.SCENARIO ? { examples: [[JSON.parse(process.env.SCENARIO)]], numRuns: 1 } : {})
      }
    }
  )

  // Each path has a chance of about one in five per run: sixty runs that never take one would mean
  // the generator (or the kernel) stopped producing it, and the checks above passed vacuously.
  it.runIf(process.env.SCENARIO === undefined)("the runs took every path: resumed, HTTP interrupted, delivered by each life", () => {
    expect(coverage.resumed).toBeGreaterThan(0)
    expect(coverage.httpInterrupted).toBeGreaterThan(0)
    expect(coverage.delivered).toBeGreaterThan(0)
    expect(coverage.deliveredByLife2).toBeGreaterThan(0)
  })
})
