// The kernel scenario the shutdown-ordering property runs (interrupt-ordering.test.ts): random
// adapters (latency, failures, hangs) with turns, signals and marker states, on TestClock, with
// in-memory services that log every step in order and the real SQL journal on a temporary file.
// Adapter 0 is the HTTP platform (request/response), the others push platforms that record a reply
// reference and the delivery. After the first life, a second one on the same database gets what
// the first left as its carryover, resumes and delivers it.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
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
import { outcomeOf } from "../../../src/adapters/TurnIntake.js"
import { Agent } from "../../../src/agents/Agent.js"
import { TurnDelivery } from "../../../src/adapters/TurnDelivery.js"
import { emptyMemoryHome, HomeStore, memoryHomeStore } from "../../../src/home/HomeStore.js"
import { runGateway } from "../../../src/lifecycle/Gateway.js"
import type { ShutdownBudget } from "../../../src/lifecycle/ShutdownBudget.js"
import { type ProcessSignal, Signals } from "../../../src/lifecycle/Signals.js"
import { Watchdog } from "../../../src/lifecycle/Watchdog.js"
import { SystemdNotify } from "../../../src/supervision/SystemdNotify.js"
import { Forensics } from "../../../src/forensics/Forensics.js"
import type { SessionDbService } from "../../../src/sessions/SessionDb.js"
import { resolveEngine } from "../../../src/sessions/SqliteEngine.js"
import { openSqliteSessionDb } from "../../../src/sessions/SqliteSessionStore.js"
import { SessionStore } from "../../../src/sessions/SessionStore.js"
import { dbFile, openLife } from "../sessions/harness.js"
import { runWithHooks } from "./TurnHooks.js"

/** The engine a gateway on this Node picks ("auto"). */

/**
 * The scenario's database lives on tmpfs where there is one: the property is about order and exit
 * codes, not the disk, and sixty scenarios of two lives each commit hundreds of turns. On a loaded
 * disk (the whole suite under `npm run test:stress`) their fsyncs alone outlasted the test's limit.
 * The SQL, the journal and both lives are the real ones; durability is the crash suites' subject.
 */
const ramHome = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "hermes-kernel-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

export const engine = resolveEngine("auto")
/** Adapter 0 answers on the request itself; the others push their answers to chats. */
export const platformOf = (i: number) => (i === 0 ? "http" : `a${i}`)
export const isPush = (platform: string) => platform !== "http"

export type Outcome = "ok" | "fail" | "hang" | "hang-uninterruptible"

export interface AdapterSpec {
  readonly connectMs: number
  readonly connect: Outcome
  readonly disconnectMs: number
  readonly disconnect: Outcome
  /** `delivers`: a push adapter records that the answer reached the chat (false: it died first, say). */
  readonly turns: ReadonlyArray<{ readonly atMs: number; readonly agentMs: number; readonly delivers: boolean }>
}

export type MarkerState = "none" | "self-stop" | "self-restart" | "other-process" | "expired" | "garbage"

export interface Scenario {
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

export const scenario: fc.Arbitrary<Scenario> = fc.record({
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

export const budget: ShutdownBudget = {
  drain: Duration.seconds(0),
  adapterConnect: Duration.seconds(2),
  adapterDisconnect: Duration.seconds(1),
  dbClose: Duration.seconds(1),
  markerTtl: Duration.seconds(60)
}

export const self = { pid: 4242, startTime: "777" }

const hang = (o: Outcome) => o === "hang-uninterruptible" ? Effect.never.pipe(Effect.uninterruptible) : Effect.never

export const runScenario = (s: Scenario) =>
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
    const file = dbFile(yield* ramHome)
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
      startIntake: (intake) => Effect.flatMap(TurnDelivery, (delivery) =>
        Effect.forEach(spec.turns, (turn) =>
          Effect.sleep(Duration.millis(turn.atMs)).pipe(
            Effect.zipRight(runWithHooks(
              intake.submit({ platform: platformOf(i), sessionKey: undefined, text: String(turn.agentMs), history: [] }),
              {
                // A push platform posts a placeholder and records it, as Telegram does.
                onAccepted: (ids) =>
                  log(`turn:${ids.turnId}:accepted`).pipe(
                    Effect.zipRight(isPush(platformOf(i)) ? delivery.replyRef(ids, `placeholder-${ids.turnId}`) : Effect.void)
                  )
              }
            )),
            Effect.tap((o) => log(o._tag === "Refused" ? `turn:refused:${o.reason}` : `turn:${o.ids.turnId}:${o._tag}`)),
            // A push platform records that an ended turn's answer reached the chat (not a cut one).
            Effect.tap((o) =>
              !isPush(platformOf(i)) || !(o._tag === "Completed" || o._tag === "Failed")
                ? Effect.void
                : turn.delivers
                ? delivery.delivered(o.ids).pipe(Effect.zipRight(log(`turn:${o.ids.turnId}:delivered`)))
                : log(`turn:${o.ids.turnId}:undelivered`)
            ),
            Effect.catchTag("IntakeClosed", () => Effect.succeed("closed" as const)),
            Effect.tap((o) => Effect.sync(() => void outcomes.push({ adapter: i, outcome: o }))),
            Effect.forkDaemon
          ), { discard: true }).pipe(Effect.zipLeft(log(`a${i}:start_intake`)))),
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
      startIntake: (intake, context) => Effect.flatMap(TurnDelivery, (delivery) =>
        Effect.forEach(context.carryover, (item) =>
          Effect.sync(() => void carried.push(item)).pipe(
            Effect.zipRight(
              item._tag === "Resume"
                ? outcomeOf(intake.resume(item.ids.turnId)).pipe(
                  Effect.tap((o) => (o._tag === "Completed" || o._tag === "Failed" ? delivery.delivered(o.ids) : Effect.void)),
                  Effect.catchTag("IntakeClosed", () => Effect.succeed("closed" as const)),
                  Effect.tap((outcome) => Effect.sync(() => void resumed.push({ turnId: item.ids.turnId, outcome })))
                )
                : delivery.delivered(item.ids)
            )
          // All at once: the SIGINT that ends life 2 comes after any one resumed turn could have
          // ended (agent times are at most 5 s), not after all of them one by one.
          ), { discard: true, concurrency: "unbounded" }).pipe(Effect.forkDaemon, Effect.asVoid)),
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

