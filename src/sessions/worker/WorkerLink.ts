// One SessionDB worker thread seen from the gateway: start it, open the database in it, send calls
// and match each reply to its caller. A thread that exits or fails fails every call still waiting
// (and every later one) with a storage error instead of leaving it to hang.
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as LogLevel from "effect/LogLevel"
import { Worker, type WorkerOptions } from "node:worker_threads"
import type { RecoveryReport } from "../CrashRecovery.js"
import { SessionDbError } from "../SessionDb.js"
import { type Answer, type DbCall, decodeError, FromWorker, type OpenRequest, resultSchemas, ToWorker } from "./WorkerProtocol.js"
import { sessionDbWorkerOptions, takePrestartedWorker } from "./Prestart.js"

/** Where the worker's code is: the bundle's second entry, or the TypeScript source under tsx/vitest. */
export interface WorkerEntry {
  readonly url: URL | string
  readonly options?: WorkerOptions
}

interface Waiter {
  readonly tag: DbCall["_tag"]
  readonly resume: (effect: Effect.Effect<unknown, SessionDbError>) => void
}

export interface WorkerLink {
  readonly recovery: RecoveryReport | null
  /** One round trip; fails with reason "storage" once the thread is gone. */
  readonly call: (call: DbCall) => Effect.Effect<unknown, SessionDbError>
  /** Waits for the calls sent before it, closes the database, ends the thread. */
  readonly close: Effect.Effect<void, SessionDbError>
  /** Succeeds with the error that ended the thread when it ends without being closed. */
  readonly died: Effect.Effect<SessionDbError>
  /** Ends the thread at once (the close timed out, or the open was abandoned). */
  readonly terminate: Effect.Effect<void>
}

const encodeToWorker = Schema.encodeSync(ToWorker)
const decodeFromWorker = Schema.decodeUnknownEither(FromWorker)
const levels = { Debug: LogLevel.Debug, Info: LogLevel.Info, Warning: LogLevel.Warning, Error: LogLevel.Error } as const
const decoders = Object.fromEntries(
  Object.entries(resultSchemas).map(([tag, schema]) => [tag, Schema.decodeUnknownSync(schema as Schema.Schema<unknown, unknown>)])
) as Record<DbCall["_tag"], (value: unknown) => unknown>

/** Starts a worker and opens the database in it; fails with the open's own error (reason kept). */
export const startWorkerLink = (entry: WorkerEntry, open: OpenRequest): Effect.Effect<WorkerLink, SessionDbError> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const log = (level: keyof typeof levels, message: string) =>
      Runtime.runSync(runtime)(Effect.logWithLevel(levels[level], message))
    const file = open.file
    const pending = new Map<number, Waiter>()
    let nextId = 0
    let gone: SessionDbError | undefined
    let onOpen: ((effect: Effect.Effect<RecoveryReport | null, SessionDbError>) => void) | undefined
    let onClosed: ((effect: Effect.Effect<void, SessionDbError>) => void) | undefined
    const onDied: Array<(error: SessionDbError) => void> = []
    let closing = false

    const worker = yield* Effect.try({
      try: () =>
        (entry.options === undefined ? takePrestartedWorker(entry.url) : undefined) ??
          new Worker(entry.url, { ...entry.options, ...sessionDbWorkerOptions }),
      catch: (error) => new SessionDbError({ message: `session database ${file}: cannot start its worker thread: ${String(error)}`, reason: "storage" })
    })

    const answered = (answer: Answer) => {
      const waiter = pending.get(answer.id)
      if (waiter === undefined) return
      pending.delete(answer.id)
      waiter.resume(
        answer._tag === "Done"
          ? Effect.try({ try: () => decoders[waiter.tag](answer.value), catch: (error) => new SessionDbError({ message: `session database ${file}: unreadable answer to ${waiter.tag}: ${String(error)}`, reason: "storage" }) })
          : answer._tag === "Failed"
          ? Effect.fail(decodeError(answer.error))
          : Effect.die(new Error(answer.message))
      )
    }

    const end = (error: SessionDbError) => {
      if (gone !== undefined) return
      gone = error
      const waiting = Array.from(pending.values())
      pending.clear()
      for (const waiter of waiting) waiter.resume(Effect.fail(error))
      const [resumeOpen, resumeClosed] = [onOpen, onClosed]
      onOpen = undefined
      onClosed = undefined
      resumeOpen?.(Effect.fail(error))
      resumeClosed?.(closing ? Effect.void : Effect.fail(error))
      if (!closing) for (const listener of onDied.splice(0)) listener(error)
    }

    worker.on("message", (raw: unknown) => {
      const decoded = decodeFromWorker(raw)
      if (decoded._tag === "Left") {
        log("Error", `session db worker sent what the gateway cannot read: ${decoded.left.message}`)
        return
      }
      const message = decoded.right
      switch (message._tag) {
        case "Log":
          return log(message.level, message.message)
        case "Opened":
          return onOpen?.(Effect.succeed(message.recovery))
        case "OpenFailed":
          return onOpen?.(Effect.fail(decodeError(message.error)))
        case "Closed": {
          const resume = onClosed
          onClosed = undefined
          return resume?.(message.error === null ? Effect.void : Effect.fail(decodeError(message.error)))
        }
        case "Done":
        case "Failed":
        case "Defect":
          return answered(message)
        case "Answers":
          return message.answers.forEach(answered)
      }
    })
    worker.on("error", (error) => end(new SessionDbError({ message: `session database ${file}: its worker thread failed: ${error.message}`, reason: "storage" })))
    worker.on("exit", (code) =>
      end(new SessionDbError({ message: `session database ${file}: its worker thread exited (code ${code})`, reason: "storage" }))
    )

    const terminate = Effect.promise(() => worker.terminate()).pipe(Effect.asVoid)

    const recovery = yield* Effect.async<RecoveryReport | null, SessionDbError>((resume) => {
      onOpen = resume
      worker.postMessage(encodeToWorker(open))
    }).pipe(Effect.onExit(() => Effect.sync(() => void (onOpen = undefined))), Effect.onError(() => terminate))

    // Calls made while the event loop runs one batch of fibers (the turns a group commit's answers
    // woke, typically) leave together in one message, sent once those fibers have run: one copy and
    // one wake-up of the worker instead of one per call. A microtask later than posting each at once.
    // Each call is encoded (and so checked) when it is made, not in the batch: a call the protocol
    // refuses fails its own caller at once, where a throw in the flush would leave every call of
    // the batch waiting for ever. The batch of encoded calls is the encoded Calls message.
    let outbox: Array<unknown> = []
    const flush = () => {
      const calls = outbox
      outbox = []
      if (calls.length === 0 || gone !== undefined) return
      worker.postMessage(calls.length === 1 ? calls[0] : { _tag: "Calls", calls })
    }

    const call = (request: DbCall): Effect.Effect<unknown, SessionDbError> =>
      Effect.async<unknown, SessionDbError>((resume) => {
        if (gone !== undefined) return resume(Effect.fail(gone))
        const id = nextId++
        const encoded = encodeToWorker({ _tag: "Call", id, call: request })
        pending.set(id, { tag: request._tag, resume })
        if (outbox.push(encoded) === 1) queueMicrotask(flush)
      })

    const close = Effect.async<void, SessionDbError>((resume) => {
      if (gone !== undefined) return resume(Effect.void)
      closing = true
      onClosed = resume
      // Every call made before the close reaches the worker before it.
      flush()
      worker.postMessage(encodeToWorker({ _tag: "Close" }))
    }).pipe(
      // Once the database is closed nothing is left to wait for: the thread's teardown (tens of ms
      // on a loaded machine) goes on while the gateway finishes its stop, and never holds it.
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.sync(() => void worker.terminate()) : terminate)
    )

    const died = Effect.async<SessionDbError>((resume) => {
      if (gone !== undefined && !closing) return resume(Effect.succeed(gone))
      onDied.push((error) => resume(Effect.succeed(error)))
    })

    return { recovery, call, close, died, terminate }
  })
