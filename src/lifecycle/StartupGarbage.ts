// Start-up leaves a lot behind on the heap: every module's top level ran once, the config, the
// migrations and the layers were built, and V8 starts marking the old generation while it settles.
// Left alone, that collection lands whenever allocation next crosses V8's limit, often the first
// burst of traffic or the stop itself (on Node 24 a mark-compact of ~18 ms inside an idle SIGTERM:
// BENCHMARKS.md, issue 13). Collected once, shortly after ready while nothing runs, it costs one
// pause nobody waits for, and the heap that is left holds only what the life needs.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { Life } from "./Life.js"

/**
 * V8's full collection, or undefined where this Node cannot give it. `gc` exists only in contexts
 * made after --expose-gc is set, so a fresh context hands it over; the flag changes nothing else
 * (the contexts already running keep no `gc`). Jest's leak detector takes it the same way.
 */
export const fullCollection = (): (() => void) | undefined => {
  try {
    v8.setFlagsFromString("--expose-gc")
    const collect: unknown = vm.runInNewContext("gc")
    return typeof collect === "function" ? () => void collect() : undefined
  } catch {
    return undefined
  }
}

/** How long the gateway must have been ready, and quiet, before start-up's garbage is collected. */
export const startupGarbageDelay = Duration.millis(100)

const megabytes = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)

/**
 * Once, `startupGarbageDelay` after ready: a full collection if the gateway is still running and no
 * turn is in flight (a busy gateway's own collections are V8's business), logged at debug level.
 */
export const collectStartupGarbageWith = (obtain: () => (() => void) | undefined): Effect.Effect<void, never, Life> =>
  Effect.gen(function*() {
    const life = yield* Life
    yield* Effect.sleep(startupGarbageDelay)
    const status = yield* Ref.get(life.status)
    if (status.lifecycle._tag !== "Running" || status.activeTurns > 0) return
    const collect = obtain()
    if (collect === undefined) return yield* Effect.logDebug("start-up garbage left to V8: this Node cannot collect on request")
    // The heap's own figure: process.memoryUsage() would also read /proc for the RSS.
    const before = v8.getHeapStatistics().used_heap_size
    const startedAt = performance.now()
    collect()
    const took = performance.now() - startedAt
    const after = v8.getHeapStatistics().used_heap_size
    yield* Effect.logDebug(`start-up garbage collected took=${took.toFixed(1)}ms heap_used=${megabytes(before)}→${megabytes(after)}MB`)
  })

export const collectStartupGarbage = collectStartupGarbageWith(fullCollection)
