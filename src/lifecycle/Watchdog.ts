// The hard shutdown deadline (CONTRACT 3.3) enforced from a worker thread, so it fires even when
// the main event loop is blocked: it appends a record to logs/lifecycle.jsonl and exits 70.
// Exiting the whole process from a worker needs the inspector: the worker evaluates
// process.reallyExit(70) on the main thread, which V8 runs even in the middle of a busy loop.
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { Worker } from "node:worker_threads"
import { ExitCode } from "./ExitCode.js"

export interface WatchdogService {
  /** Starts the countdown; `record` is what the lifecycle log gets if it fires. */
  readonly arm: (deadline: Duration.Duration, record: Record<string, unknown>) => Effect.Effect<void>
  /** Tells the watchdog which shutdown phase is running, for the record. */
  readonly phase: (name: string) => Effect.Effect<void>
  readonly disarm: Effect.Effect<void>
}

export class Watchdog extends Context.Tag("hermes/Watchdog")<Watchdog, WatchdogService>() {
  /** A worker thread that writes to `lifecycleLog` and ends the process with 70. */
  static readonly live = (lifecycleLog: string): Layer.Layer<Watchdog> =>
    Layer.scoped(
      Watchdog,
      Effect.acquireRelease(
        Effect.sync(() => {
          const worker = new Worker(workerSource, { eval: true, workerData: { lifecycleLog, exitCode: ExitCode.Software } })
          worker.unref()
          return worker
        }),
        (worker) => Effect.promise(() => worker.terminate())
      ).pipe(Effect.map((worker): WatchdogService => ({
        arm: (deadline, record) =>
          Effect.sync(() => worker.postMessage({ type: "arm", ms: Duration.toMillis(deadline), record })),
        phase: (name) => Effect.sync(() => worker.postMessage({ type: "phase", name })),
        disarm: Effect.sync(() => worker.postMessage({ type: "disarm" }))
      })))
    )

  /**
   * A clock-driven stand-in for tests: it never exits the process, it remembers whether the
   * deadline passed while armed, so a test can assert that teardown stayed within the budget.
   */
  static readonly test = (fired: Ref.Ref<Option.Option<string>>): Layer.Layer<Watchdog> =>
    Layer.scoped(
      Watchdog,
      Effect.gen(function*() {
        const current = yield* Ref.make<{ fiber: Fiber.RuntimeFiber<void> | undefined; phase: string }>({
          fiber: undefined,
          phase: "none"
        })
        const scope = yield* Effect.scope
        return {
          arm: (deadline) =>
            Effect.gen(function*() {
              const armedAt = yield* Clock.currentTimeMillis
              const fiber = yield* Effect.sleep(deadline).pipe(
                Effect.zipRight(Ref.get(current)),
                Effect.flatMap(({ phase }) =>
                  Ref.set(fired, Option.some(`phase=${phase} after ${Duration.toMillis(deadline)}ms (armed at ${armedAt})`))
                ),
                // Armed from a finalizer it would inherit uninterruptibility, and disarm would wait it out.
                Effect.interruptible,
                Effect.forkIn(scope)
              )
              yield* Ref.update(current, (c) => ({ ...c, fiber }))
            }),
          phase: (name) => Ref.update(current, (c) => ({ ...c, phase: name })),
          disarm: Ref.get(current).pipe(
            Effect.flatMap(({ fiber }) => fiber === undefined ? Effect.void : Fiber.interrupt(fiber))
          )
        }
      })
    )
}

const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const fs = require("node:fs")
const path = require("node:path")
let timer
let phase = "none"
let armedAt = 0
parentPort.on("message", (message) => {
  if (message.type === "arm") {
    clearTimeout(timer)
    armedAt = Date.now()
    timer = setTimeout(() => fire(message), message.ms)
  } else if (message.type === "phase") {
    phase = message.name
  } else if (message.type === "disarm") {
    clearTimeout(timer)
    timer = undefined
  }
})
function fire(message) {
  const record = Object.assign({}, message.record, {
    event: "watchdog",
    deadline_fired: "hard",
    deadline_ms: message.ms,
    phase,
    armed_at: new Date(armedAt).toISOString(),
    at: new Date().toISOString(),
    exit_code: workerData.exitCode
  })
  try {
    fs.mkdirSync(path.dirname(workerData.lifecycleLog), { recursive: true, mode: 0o700 })
    const fd = fs.openSync(workerData.lifecycleLog, "a", 0o600)
    fs.writeSync(fd, JSON.stringify(record) + "\\n")
    fs.fsyncSync(fd)
    fs.closeSync(fd)
  } catch (error) {}
  try {
    fs.writeSync(2, "shutdown hard deadline of " + message.ms + "ms passed in phase=" + phase + "; exiting " + workerData.exitCode + "\\n")
  } catch (error) {}
  // If the main thread cannot even run the interrupt (stuck in a system call), kill it.
  setTimeout(() => process.kill(process.pid, "SIGKILL"), 2000)
  const inspector = require("node:inspector")
  const session = new inspector.Session()
  session.connectToMainThread()
  session.post("Runtime.evaluate", { expression: "process.reallyExit(" + workerData.exitCode + ")" })
}
`
