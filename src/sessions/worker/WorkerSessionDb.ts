// The gateway's SessionDB: SessionDbService answered by a worker thread that owns the SQLite
// connection (SessionDbWorker.ts), so no statement and no fsync runs on the event loop. Each method
// is one round trip. A worker that dies is a storage failure: its waiting calls fail at once, new
// calls fail with reason "storage" (the same answer as a failing disk: HTTP 503 for a new turn) while
// it is started again with a backoff; the reopened database skips turn recovery, because the turns
// it finds running belong to this live gateway.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { timedCommit } from "../../metrics/GatewayMetrics.js"
import { deliveredThroughLog, deliveryLogFile, makeDeliveryLog } from "../DeliveryLog.js"
import type { OpenOptions } from "../OpenOptions.js"
import { SessionDbError, type SessionDbService } from "../SessionDb.js"
import type { SqliteStoreOptions } from "../SqliteSessionStore.js"
import { defaultMaxGroup } from "./GroupCommit.js"
import { sessionDbWorkerFile } from "./WorkerFile.js"
import { startWorkerLink, type WorkerEntry, type WorkerLink } from "./WorkerLink.js"
import type { DbCall, OpenRequest, ServiceResult } from "./WorkerProtocol.js"
import * as fs from "node:fs"

export interface WorkerStoreOptions extends SqliteStoreOptions {
  /** The most calls one group commit covers (default GroupCommit.defaultMaxGroup). */
  readonly maxGroup?: number
  /** Where the worker's code is (default: beside the bundle, or the source under tsx). */
  readonly entry?: WorkerEntry
  /** Waits between attempts to start a dead worker again (default: 50 ms doubling, at most 5 s apart). */
  readonly respawn?: Schedule.Schedule<unknown, SessionDbError>
}

/**
 * dist/session-db-worker.js, found from the module this code was bundled into: dist/hermes.js
 * itself, or one of the chunks the entry loads lazily from dist/chunks/.
 */
const bundledWorker = (here: string): URL => {
  const beside = new URL(`./${sessionDbWorkerFile}`, here)
  const above = new URL(`../${sessionDbWorkerFile}`, here)
  return !fs.existsSync(beside) && fs.existsSync(above) ? above : beside
}

/**
 * The bundle's second entry, dist/session-db-worker.js beside dist/hermes.js; run from the
 * TypeScript source (tests, benchmarks), the worker registers tsx before loading its source.
 */
export const defaultWorkerEntry = (): WorkerEntry => {
  const here = import.meta.url
  if (!here.endsWith(".ts")) return { url: bundledWorker(here) }
  const tsx = pathToFileURL(createRequire(here).resolve("tsx/esm/api")).href
  const main = new URL("./SessionDbWorkerMain.ts", here).href
  return {
    url: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(main)}) })`,
    options: { eval: true }
  }
}

const defaultRespawn: Schedule.Schedule<unknown, SessionDbError> = Schedule.exponential(Duration.millis(50)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(5)))
)

type LinkState =
  | { readonly _tag: "Up"; readonly link: WorkerLink }
  | { readonly _tag: "Down"; readonly error: SessionDbError }

export const openWorkerSessionDb = (
  file: string,
  options: WorkerStoreOptions,
  open: OpenOptions
): Effect.Effect<SessionDbService, SessionDbError> =>
  Effect.gen(function*() {
    const entry = options.entry ?? defaultWorkerEntry()
    const request = (recoverTurns: boolean): OpenRequest => ({
      _tag: "Open",
      file,
      engine: options.engine,
      requestResponsePlatforms: options.requestResponsePlatforms,
      maxInterruptedLives: options.maxInterruptedLives,
      maxContextMessages: options.maxContextMessages,
      busyTimeoutMs: options.busyTimeoutMs,
      previousLifeCrashed: recoverTurns && open.previousLifeCrashed,
      recoverTurns,
      maxGroup: options.maxGroup ?? defaultMaxGroup
    })
    const first = yield* startWorkerLink(entry, request(true))
    if (first.recovery !== null && open.onRecovery !== undefined) yield* open.onRecovery(first.recovery)

    let state: LinkState = { _tag: "Up", link: first }
    let closeRequested = false
    const scope = yield* Scope.make(ExecutionStrategy.sequential)

    // Watches the worker; when it dies, refuses calls with its error and starts another one.
    const respawned = startWorkerLink(entry, request(false)).pipe(
      Effect.tapError((error) => Effect.logWarning(`session database worker could not be started again: ${error.message}`)),
      Effect.retry(options.respawn ?? defaultRespawn)
    )
    const watch = (link: WorkerLink): Effect.Effect<void> =>
      Effect.gen(function*() {
        const error = yield* link.died
        state = { _tag: "Down", error }
        yield* Effect.logError(`${error.message}: new turns are refused until it is started again`)
        const next = yield* Effect.orDie(respawned)
        if (closeRequested) return yield* next.terminate
        state = { _tag: "Up", link: next }
        yield* Effect.log(`session database ${file}: worker thread started again`)
        return yield* watch(next)
      })
    // Interruptible even when the open runs inside an acquireRelease, so close can stop it.
    yield* Effect.forkIn(Effect.interruptible(watch(first)), scope)

    const closedError = () => new SessionDbError({ message: `the session database ${file} is closed`, reason: "closed" })

    const roundTrip = <K extends DbCall["_tag"]>(call: Extract<DbCall, { _tag: K }>): Effect.Effect<ServiceResult<K>, SessionDbError> =>
      Effect.suspend(() => {
        if (closeRequested) return Effect.fail(closedError())
        const now = state
        return now._tag === "Up" ? now.link.call(call) : Effect.fail(now.error)
      }).pipe(timedCommit, Effect.uninterruptible) as Effect.Effect<ServiceResult<K>, SessionDbError>

    const deliveryLog = makeDeliveryLog(deliveryLogFile(file))

    const close: SessionDbService["close"] = Effect.suspend(() => {
      closeRequested = true
      return Scope.close(scope, Exit.void).pipe(Effect.zipRight(Effect.suspend(() => {
        const now = state
        return now._tag === "Up" ? now.link.close.pipe(Effect.onInterrupt(() => now.link.terminate)) : Effect.void
      })))
    })

    return {
      beginTurn: (inbound) =>
        roundTrip({
          _tag: "beginTurn",
          inbound: {
            platform: inbound.platform,
            sessionKey: inbound.sessionKey,
            text: inbound.text,
            history: inbound.history,
            ...(inbound.user === undefined ? {} : { user: inbound.user }),
            ...(inbound.externalId === undefined ? {} : { externalId: inbound.externalId })
          }
        }),
      completeTurn: (ids, reply) => roundTrip({ _tag: "completeTurn", ids, reply }),
      failTurn: (ids, message) => roundTrip({ _tag: "failTurn", ids, message }),
      interruptTurn: (ids, reason) => roundTrip({ _tag: "interruptTurn", ids, reason }),
      resumeTurn: (turnId) => roundTrip({ _tag: "resumeTurn", turnId }),
      expireTurn: (turnId, reason) => roundTrip({ _tag: "expireTurn", turnId, reason }),
      // The delivery log is appended here, on the gateway's thread, before the round trip: a kill
      // while the call travels must not make the next life send the answer again.
      markDelivered: (ids) => deliveredThroughLog(deliveryLog, ids, (ids) => roundTrip({ _tag: "markDelivered", ids })),
      setReplyRef: (ids, ref) => roundTrip({ _tag: "setReplyRef", ids, ref }),
      backlog: roundTrip({ _tag: "backlog" }),
      listSessions: roundTrip({ _tag: "listSessions" }),
      transcript: (sessionId) => roundTrip({ _tag: "transcript", sessionId }),
      turns: (filter) => roundTrip({ _tag: "turns", ...(filter === undefined ? {} : { filter }) }),
      prune: (cutoff) => roundTrip({ _tag: "prune", cutoff }),
      sessionsByKey: (key) => roundTrip({ _tag: "sessionsByKey", key }),
      reactivateSession: (sessionId) => roundTrip({ _tag: "reactivateSession", sessionId }),
      close
    }
  })
