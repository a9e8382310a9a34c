// The SessionDB worker's program: it owns the SQLite connection, so every statement and every fsync
// runs on this thread, never on the gateway's event loop. It opens the database (integrity check,
// migrations and crash recovery included) with the turn journal of TurnJournal.ts, then answers calls
// in arrival order. Calls that piled up while a commit was in flight share the next durable
// transaction (GroupCommit.ts), and no reply leaves before the COMMIT that covers it: an answer the
// gateway acknowledges is on disk.
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as SqlClient from "@effect/sql/SqlClient"
import { defaultRequestResponsePlatforms, SessionDbError, type SessionDbService } from "../SessionDb.js"
import { toSessionDbError } from "../SessionDbFailure.js"
import type { RecoveryReport } from "../CrashRecovery.js"
import { openSqliteJournal } from "../SqliteSessionStore.js"
import { idleTick, type IdleTick, makeIdleCheckpoint } from "./IdleCheckpoint.js"
import { onlyTurnWrites, runTurnWrites } from "./TurnWriteGroup.js"
import { makeTurnWrites } from "./TurnWrites.js"
import { type CallRequest, type Pending, planSteps } from "./GroupCommit.js"
import { type Answer, type DbCall, encodeError, FromWorker, type OpenRequest, resultSchemas, ToWorker } from "./WorkerProtocol.js"

/** The worker's end of the channel (worker_threads' parentPort in production). */
export interface WorkerChannel {
  readonly post: (message: unknown) => void
  readonly listen: (onMessage: (message: unknown) => void) => void
  /** Stops listening, so the thread can end once the last reply is sent. */
  readonly stop: () => void
}

const encodeFromWorker = Schema.encodeSync(FromWorker)
const decodeToWorker = Schema.decodeUnknownEither(ToWorker)

/** Runs one call against the journal; the value comes back encoded for the trip to the gateway. */
const dispatch = (db: SessionDbService, call: DbCall): Effect.Effect<unknown, SessionDbError> => {
  const encoded = <A>(tag: DbCall["_tag"], effect: Effect.Effect<A, SessionDbError>) =>
    Effect.map(effect, (value) => Schema.encodeSync(resultSchemas[tag] as Schema.Schema<A, unknown>)(value))
  switch (call._tag) {
    case "beginTurn":
      return encoded(call._tag, db.beginTurn(call.inbound))
    case "completeTurn":
      return encoded(call._tag, db.completeTurn(call.ids, call.reply))
    case "failTurn":
      return encoded(call._tag, db.failTurn(call.ids, call.message))
    case "interruptTurn":
      return encoded(call._tag, db.interruptTurn(call.ids, call.reason))
    case "resumeTurn":
      return encoded(call._tag, db.resumeTurn(call.turnId))
    case "expireTurn":
      return encoded(call._tag, db.expireTurn(call.turnId, call.reason))
    case "markDelivered":
      return encoded(call._tag, db.markDelivered(call.ids))
    case "setReplyRef":
      return encoded(call._tag, db.setReplyRef(call.ids, call.ref))
    case "backlog":
      return encoded(call._tag, db.backlog)
    case "listSessions":
      return encoded(call._tag, db.listSessions)
    case "transcript":
      return encoded(call._tag, db.transcript(call.sessionId))
    case "turns":
      return encoded(call._tag, db.turns(call.filter))
    case "prune":
      return encoded(call._tag, db.prune(call.cutoff))
    case "sessionsByKey":
      return encoded(call._tag, db.sessionsByKey(call.key))
    case "reactivateSession":
      return encoded(call._tag, db.reactivateSession(call.sessionId))
  }
}

/** Log lines travel to the gateway, which writes them with its own logger and format. */
export const forwardingLogger = (channel: WorkerChannel) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      channel.post(encodeFromWorker({
        _tag: "Log",
        level: levelOf(logLevel),
        message: Array.isArray(message) ? message.map(String).join(" ") : String(message)
      }))
    })
  )

const levelOf = (level: LogLevel.LogLevel): "Debug" | "Info" | "Warning" | "Error" => {
  switch (level._tag) {
    case "Fatal":
    case "Error":
      return "Error"
    case "Warning":
      return "Warning"
    case "Info":
      return "Info"
    default:
      return "Debug"
  }
}

/** Serves the channel until the gateway asks it to close (or the open fails). */
export const serveSessionDb = (channel: WorkerChannel): Effect.Effect<void> =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<ToWorker | IdleTick>()
    channel.listen((raw) => {
      const decoded = decodeToWorker(raw)
      if (decoded._tag === "Right") {
        if (decoded.right._tag !== "Calls") Queue.unsafeOffer(inbox, decoded.right)
        else for (const call of decoded.right.calls) Queue.unsafeOffer(inbox, call)
      } else channel.post(encodeFromWorker({ _tag: "Log", level: "Error", message: `session db worker: a request it cannot read: ${decoded.left.message}` }))
    })
    const first = yield* Queue.take(inbox)
    if (first._tag !== "Open") {
      channel.post(encodeFromWorker({ _tag: "OpenFailed", error: { message: "session db worker: the first request was not Open", reason: "storage" } }))
      return channel.stop()
    }
    const opened = yield* Effect.either(open(first))
    if (opened._tag === "Left") {
      channel.post(encodeFromWorker({ _tag: "OpenFailed", error: encodeError(opened.left) }))
      return channel.stop()
    }
    const { db, sql, driver, recovery } = opened.right
    const writes = makeTurnWrites(driver, {
      requestResponsePlatforms: first.requestResponsePlatforms ?? defaultRequestResponsePlatforms,
      ...(first.maxContextMessages === undefined ? {} : { maxContextMessages: first.maxContextMessages })
    })
    channel.post(encodeFromWorker({ _tag: "Opened", recovery }))
    const answer = answerWith(channel)
    const idle = makeIdleCheckpoint(
      driver,
      () => Queue.unsafeOffer(inbox, idleTick),
      (message) => channel.post(encodeFromWorker({ _tag: "Log", level: "Warning", message }))
    )
    yield* Effect.iterate(false, {
      while: (closed) => !closed,
      body: () =>
        Effect.gen(function*() {
          const arrived = yield* Queue.take(inbox)
          if (arrived._tag === "IdleTick") return yield* Effect.as(Effect.sync(idle.run), false)
          // The fiber wakes in a microtask right after the first message; the messages posted with it
          // (those that piled up during the last fsync) are delivered by the same event-loop turn,
          // so the queue is drained only after that turn.
          yield* afterPendingMessages
          // A tick that raced the traffic is dropped: the timer is re-armed after this batch.
          const drained: Array<Pending<DbCall>> = [arrived, ...(yield* Queue.takeAll(inbox))].flatMap((message) =>
            message._tag === "IdleTick" ? [] : [toPending(message)]
          )
          let closed = false
          for (const step of planSteps(drained, first.maxGroup)) {
            switch (step._tag) {
              // The turn writes, nearly every call under load, run as plain synchronous code;
              // a step with any other call goes through the journal.
              case "Alone": {
                const alone = [step.request]
                answer(onlyTurnWrites(alone) ? runTurnWrites(driver, writes, alone) : [[step.request, yield* Effect.exit(dispatch(db, step.request.call))]])
                break
              }
              case "Group":
                answer(onlyTurnWrites(step.requests) ? runTurnWrites(driver, writes, step.requests) : yield* runGroup(sql, db, first.file, step.requests))
                break
              case "Close": {
                const exit = yield* Effect.exit(db.close)
                channel.post(encodeFromWorker({ _tag: "Closed", error: Exit.isFailure(exit) ? encodeError(closeFailure(first.file, exit)) : null }))
                closed = true
                break
              }
              case "Refuse": {
                const refusal = Exit.fail(new SessionDbError({ message: `the session database ${first.file} is closed`, reason: "closed" }))
                answer(step.requests.map((request) => [request, refusal] as const))
              }
            }
          }
          idle.touched()
          return closed
        })
    }).pipe(Effect.ensuring(Effect.sync(idle.stop)))
    channel.stop()
  })

const afterPendingMessages = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

const toPending = (message: ToWorker): Pending<DbCall> =>
  message._tag === "Call" ? { _tag: "Call", id: message.id, call: message.call } : { _tag: "Close" }

const closeFailure = (file: string, exit: Exit.Exit<void, SessionDbError>): SessionDbError =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : new SessionDbError({ message: `cannot close ${file}`, reason: "storage" })

const open = (request: OpenRequest) =>
  Effect.gen(function*() {
    let recovery: RecoveryReport | null = null
    const { db, sql, driver } = yield* openSqliteJournal(
      request.file,
      {
        ...(request.engine === undefined ? {} : { engine: request.engine }),
        ...(request.requestResponsePlatforms === undefined ? {} : { requestResponsePlatforms: request.requestResponsePlatforms }),
        ...(request.maxInterruptedLives === undefined ? {} : { maxInterruptedLives: request.maxInterruptedLives }),
        ...(request.maxContextMessages === undefined ? {} : { maxContextMessages: request.maxContextMessages }),
        ...(request.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: request.busyTimeoutMs })
      },
      { previousLifeCrashed: request.previousLifeCrashed, onRecovery: (report) => Effect.sync(() => void (recovery = report)) },
      { recoverTurns: request.recoverTurns, deliveryLog: false }
    )
    return { db, sql, driver, recovery: recovery as RecoveryReport | null }
  })

type Answered = readonly [CallRequest<DbCall>, Exit.Exit<unknown, SessionDbError>]

const answerOf = ([request, exit]: Answered): Answer => {
  if (Exit.isSuccess(exit)) return { _tag: "Done", id: request.id, value: exit.value }
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  return failure !== undefined
    ? { _tag: "Failed", id: request.id, error: encodeError(failure) }
    : { _tag: "Defect", id: request.id, message: `session db worker: ${String(exit.cause)}` }
}

/** Posts the answers of one step (after its COMMIT) as one message. */
const answerWith = (channel: WorkerChannel) => (answered: ReadonlyArray<Answered>): void => {
  if (answered.length === 0) return
  channel.post(encodeFromWorker({ _tag: "Answers", answers: answered.map(answerOf) }))
}

/**
 * Calls that arrived together: one BEGIN IMMEDIATE, each call in its own savepoint (the journal's
 * own transaction nests as one), one COMMIT, then every reply. A failed COMMIT fails them all.
 */
const runGroup = (
  sql: SqlClient.SqlClient,
  db: SessionDbService,
  file: string,
  requests: ReadonlyArray<CallRequest<DbCall>>
): Effect.Effect<ReadonlyArray<Answered>> =>
  Effect.gen(function*() {
    const group = yield* Effect.exit(sql.withTransaction(Effect.forEach(requests, (request) => Effect.exit(dispatch(db, request.call)))))
    if (Exit.isSuccess(group)) return group.value.map((exit, i) => [requests[i]!, exit] as const)
    const mapped = toSessionDbError(file, `commit ${requests.length} calls`, group.cause)
    const exit: Exit.Exit<never, SessionDbError> = mapped instanceof SessionDbError ? Exit.fail(mapped) : Exit.failCause(mapped)
    return requests.map((request) => [request, exit] as const)
  })
