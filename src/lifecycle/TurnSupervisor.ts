// Owns every in-flight turn. Turns run as fibers in a FiberSet scoped to the gateway, so shutdown
// can wait for them (drain), then interrupt what is left; each outcome is written to the journal.
// A platform sees a turn as a Stream of its events, fed from a per-turn mailbox; the turn never
// waits for its reader, and a reader that leaves takes nothing with it but its view.
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Mailbox from "effect/Mailbox"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  type InboundMessage,
  IntakeClosed,
  TurnEvent,
  type TurnIds,
  type TurnIntake,
  type TurnOutcome,
  type TurnProgress
} from "../adapters/TurnIntake.js"
import { Agent, type AgentReport, type GenerationOptions } from "../agents/Agent.js"
import type { BegunTurn, SessionDbError, SessionDbService } from "../sessions/SessionDb.js"
import { annotateTurnEnd, withTurnSpan } from "../telemetry/TurnSpans.js"
import { replyText } from "./ReplyText.js"
import { turnLine } from "./TurnLog.js"
import { type ActiveChange, makeRunningCount } from "./RunningCount.js"
import { busyOutcome } from "./TurnAdmission.js"

export type DrainEnd = "empty" | "deadline" | "forced"

export interface DrainResult {
  readonly ended: DrainEnd
  readonly drained: number
  readonly left: number
}

export interface TurnSupervisor {
  readonly intake: TurnIntake
  /** Refuse new turns from now on; accepted ones continue. */
  readonly closeIntake: Effect.Effect<void>
  readonly active: Effect.Effect<number>
  /** Wait for running turns until none is left, `deadline` passes or `force` completes. */
  readonly drain: (deadline: Duration.Duration, force: Deferred.Deferred<void>) => Effect.Effect<DrainResult>
  /** Interrupt every running turn, recording `reason` for each; returns how many. */
  readonly interruptAll: (reason: string) => Effect.Effect<number>
}

/** One message to run as a turn: how it is recorded, and what the log line may name before that. */
interface TurnRequest {
  readonly begin: Effect.Effect<BegunTurn, SessionDbError>
  /** The submitting platform; a resumed turn learns its own from the journal. */
  readonly platform: string | undefined
  readonly generation: GenerationOptions | undefined
  /** Subject to gateway.max_inflight_turns (new messages; not turns resumed from an earlier life). */
  readonly bounded: boolean
}

/** Options of the supervisor beyond its journal. */
export interface TurnSupervisorOptions {
  /**
   * gateway.max_inflight_turns: a new message arriving while this many turns run is refused at
   * once (outcome Refused, reason "busy") rather than queued. 0: no limit. Resumed turns of an
   * earlier life are never refused for it, but they count.
   */
  readonly maxInflightTurns?: number
}

/**
 * Whoever reads a turn: told each event as it happens (never waited for), then the end once it is
 * recorded: the outcome, or IntakeClosed for a turn stopped before its message was recorded.
 */
interface TurnReader {
  /** False when the reader only wants the end: the turn then skips handing each chunk over. */
  readonly follows: boolean
  readonly publish: (event: TurnEvent) => Effect.Effect<void>
  readonly end: (end: Exit.Exit<TurnOutcome, IntakeClosed>) => Effect.Effect<void>
}

/** Every event into a mailbox the platform reads as a Stream. Offers to a mailbox whose reader left
 * return false at once: the turn goes on. */
const mailboxReader = (mailbox: Mailbox.Mailbox<TurnEvent, IntakeClosed>): TurnReader => ({
  follows: true,
  publish: (event) => Effect.asVoid(mailbox.offer(event)),
  end: (end) =>
    Exit.isSuccess(end)
      ? Effect.zipRight(mailbox.offer(TurnEvent.Outcome({ outcome: end.value })), mailbox.end)
      : Effect.asVoid(mailbox.done(Exit.asVoid(end)))
})

/** Only the end, into a Deferred: the cheap path for a platform that answers once the turn is over. */
const outcomeReader = (outcome: Deferred.Deferred<TurnOutcome, IntakeClosed>): TurnReader => ({
  follows: false,
  publish: () => Effect.void,
  end: (end) => Effect.asVoid(Deferred.done(outcome, end))
})

/**
 * Each event straight to the platform's callback, from the turn's own fiber (the callback never
 * waits), and the end into a Deferred: a streamed answer without a mailbox and a stream per turn.
 * A callback that throws is a bug in the platform: its view ends there, and the turn goes on.
 */
const followReader = (
  outcome: Deferred.Deferred<TurnOutcome, IntakeClosed>,
  onEvent: (event: TurnProgress) => void,
  following: { current: boolean }
): TurnReader => ({
  follows: true,
  publish: (event) =>
    following.current && event._tag !== "Outcome"
      ? Effect.sync(() => onEvent(event)).pipe(Effect.catchAllDefect((defect) => {
        following.current = false
        return Effect.logError(`a platform's turn follower failed; the turn goes on without it: ${Cause.pretty(Cause.die(defect))}`)
      }))
      : Effect.void,
  end: (end) => Effect.asVoid(Deferred.done(outcome, end))
})

const closedIntake = () => new IntakeClosed({ message: "the gateway is not accepting new messages (shutting down)" })

export const makeTurnSupervisor = (
  db: SessionDbService,
  /** Told after each change of the number of running turns (for active_turns in the state file). */
  onActiveChange: ActiveChange = () => Effect.void,
  options: TurnSupervisorOptions = {}
): Effect.Effect<TurnSupervisor, never, Scope.Scope | Agent> =>
  Effect.gen(function*() {
    const agent = yield* Agent
    const set = yield* FiberSet.make<void>()
    const open = yield* Ref.make(true)
    const interruptReason = yield* Ref.make("gateway shutting down")
    const limit = Math.max(0, Math.floor(options.maxInflightTurns ?? 0))
    const running = makeRunningCount(limit, onActiveChange)

    /** From recording the message to the recorded end; typed failures become outcomes here. */
    const recordedTurn = (
      request: TurnRequest,
      begun: Ref.Ref<BegunTurn | undefined>,
      { follows, publish }: TurnReader
    ): Effect.Effect<TurnOutcome> =>
      Effect.gen(function*() {
        const turn = yield* request.begin
        // Recorded by an earlier life, whose turn answers it (resumed or delivered after the restart).
        if (turn.duplicate) return { _tag: "Duplicate", ids: turn.ids } satisfies TurnOutcome as TurnOutcome
        yield* Ref.set(begun, turn)
        yield* publish(TurnEvent.Accepted({ ids: turn.ids }))
        const reported = yield* Ref.make<AgentReport>({})
        const onReport = (report: AgentReport) =>
          Ref.update(reported, (known) => ({ ...known, ...report })).pipe(
            Effect.zipRight(publish(TurnEvent.Report(report)))
          )
        const replies = agent.respond({ sessionId: turn.ids.sessionId, messages: turn.context, generation: request.generation, onReport })
        const reply = yield* replyText(replies, follows ? (chunk) => Effect.forEach(chunk, (text) => publish(TurnEvent.Chunk({ text })), { discard: true }) : undefined)
        yield* db.completeTurn(turn.ids, reply)
        const { finishReason, model, usage } = yield* Ref.get(reported)
        return { _tag: "Completed", ids: turn.ids, reply, model, usage, finishReason } satisfies TurnOutcome as TurnOutcome
      }).pipe(
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            const known = yield* Ref.get(begun)
            if (known === undefined) {
              // The inbound message was never recorded: there is no turn to report on.
              const reason = error._tag === "SessionDbError" && error.reason === "suspended" ? "session_suspended" : "storage"
              yield* Effect.logWarning(`message refused (${reason}): ${error.message}`)
              return { _tag: "Refused", reason, message: error.message } satisfies TurnOutcome as TurnOutcome
            }
            yield* Effect.logWarning(`turn failed: ${error.message}`)
            if (error._tag === "AgentError") yield* recordFailure(known.ids, error.message)
            return { _tag: "Failed", ids: known.ids, message: error.message } satisfies TurnOutcome as TurnOutcome
          })
        )
      )

    const recordFailure = (ids: TurnIds, message: string) =>
      db.failTurn(ids, message).pipe(
        Effect.catchAll((dbError) => Effect.logError(`cannot record failed turn ${ids.turnId}: ${dbError.message}`))
      )

    /**
     * What the turn's exit means for its reader: the outcome, or IntakeClosed for a turn stopped
     * before its message was recorded (shutdown began between the intake check and the start).
     */
    const endOf = (exit: Exit.Exit<TurnOutcome>, begun: BegunTurn | undefined): Effect.Effect<Exit.Exit<TurnOutcome, IntakeClosed>> =>
      Effect.gen(function*() {
        if (Exit.isSuccess(exit)) return exit
        const interrupted = Cause.isInterruptedOnly(exit.cause)
        if (begun === undefined) {
          if (interrupted) return Exit.fail(closedIntake())
          yield* Effect.logError(`recording a message failed: ${Cause.pretty(exit.cause)}`)
          return Exit.succeed({ _tag: "Refused", reason: "storage", message: "the message could not be recorded" } as const)
        }
        if (interrupted) {
          const reason = yield* Ref.get(interruptReason)
          yield* db.interruptTurn(begun.ids, reason).pipe(
            Effect.catchAll((dbError) => Effect.logError(`cannot record interrupted turn ${begun.ids.turnId}: ${dbError.message}`))
          )
          return Exit.succeed({ _tag: "Interrupted", ids: begun.ids, reason } as const)
        }
        // A bug, not the agent: the turn is recorded as failed rather than left running.
        yield* Effect.logError(`turn ${begun.ids.turnId} failed unexpectedly: ${Cause.pretty(exit.cause)}`)
        const message = "the gateway failed while answering"
        yield* recordFailure(begun.ids, message)
        return Exit.succeed({ _tag: "Failed", ids: begun.ids, message } as const)
      })

    /**
     * The turn's fiber. It starts uninterruptible (forked from an uninterruptible region), so the
     * count, the journal entry of its end, the log line and the reader's Outcome always happen;
     * only the turn's own work can be interrupted.
     */
    const superviseTurn = (request: TurnRequest, reader: TurnReader): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (!(yield* running.admit(request.bounded))) {
          // Refused before anything is recorded or run: the platform is told at once and retries.
          return yield* reader.end(Exit.succeed(busyOutcome(limit)))
        }
        const started = yield* Clock.currentTimeMillis
        const begun = yield* Ref.make<BegunTurn | undefined>(undefined)
        const { end, turn } = yield* withTurnSpan(Effect.gen(function*() {
          const exit = yield* Effect.exit(Effect.interruptible(recordedTurn(request, begun, reader)))
          const turn = yield* Ref.get(begun)
          const end = yield* endOf(exit, turn)
          yield* annotateTurnEnd(request.platform ?? turn?.platform ?? "-", end)
          return { end, turn }
        }))
        // Counted out before the reader hears the end, so a client that got its answer never sees
        // its own turn still counted in active_turns.
        yield* running.leave
        if (Exit.isSuccess(end)) {
          const platform = request.platform ?? turn?.platform ?? "-"
          yield* Effect.log(turnLine(platform, end.value, (yield* Clock.currentTimeMillis) - started))
        }
        yield* reader.end(end)
      })

    /**
     * Starts the turn's fiber in the gateway's set. A set already closed (the gateway's scope
     * ended) hands back a fiber that never ran, which fails: its reader is told the intake is
     * closed. A fiber that ran always succeeds, having ended its reader itself.
     */
    const startTurn = (request: TurnRequest, reader: TurnReader, unsafeClose: (closed: IntakeClosed) => void) =>
      Effect.uninterruptible(FiberSet.run(set, superviseTurn(request, reader))).pipe(
        Effect.tap((fiber) => fiber.addObserver((exit) => Exit.isFailure(exit) && unsafeClose(closedIntake())))
      )

    const turnEvents = (request: TurnRequest): Stream.Stream<TurnEvent, IntakeClosed> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        if (!(yield* Ref.get(open))) return yield* closedIntake()
        // Unbounded, so the agent never waits for a slow reader: what waits is at most this turn's
        // reply, which the journal holds in full anyway. Nothing is dropped, Outcome included.
        const mailbox = yield* Mailbox.make<TurnEvent, IntakeClosed>()
        // The reader stopped (a client hung up): only the buffering stops, never the turn.
        yield* Effect.addFinalizer(() => mailbox.shutdown)
        yield* startTurn(request, mailboxReader(mailbox), (closed) => mailbox.unsafeDone(Exit.fail(closed)))
        return Mailbox.toStream(mailbox)
      }))

    /** The turn without its events: no mailbox and no stream, only the outcome once it is recorded. */
    const turnOutcome = (request: TurnRequest): Effect.Effect<TurnOutcome, IntakeClosed> =>
      Effect.gen(function*() {
        if (!(yield* Ref.get(open))) return yield* closedIntake()
        const outcome = yield* Deferred.make<TurnOutcome, IntakeClosed>()
        yield* startTurn(request, outcomeReader(outcome), (closed) => Deferred.unsafeDone(outcome, Exit.fail(closed)))
        // Interrupting this wait (a client that hung up) leaves the turn running under the gateway.
        return yield* Deferred.await(outcome)
      })

    /** The turn with its events handed to `onEvent` as they happen, then its outcome. */
    const turnFollowed = (request: TurnRequest, onEvent: (event: TurnProgress) => void): Effect.Effect<TurnOutcome, IntakeClosed> =>
      Effect.gen(function*() {
        if (!(yield* Ref.get(open))) return yield* closedIntake()
        const outcome = yield* Deferred.make<TurnOutcome, IntakeClosed>()
        // Cleared when the platform stops waiting (a client that hung up): no more calls.
        const following = { current: true }
        yield* startTurn(request, followReader(outcome, onEvent, following), (closed) => Deferred.unsafeDone(outcome, Exit.fail(closed)))
        return yield* Deferred.await(outcome).pipe(Effect.onInterrupt(() => Effect.sync(() => void (following.current = false))))
      })

    const newTurn = (inbound: InboundMessage): TurnRequest =>
      ({ begin: db.beginTurn(inbound), platform: inbound.platform, generation: inbound.generation, bounded: true })
    const active = running.current

    const intake: TurnIntake = {
      submit: (inbound) => turnEvents(newTurn(inbound)),
      answer: (inbound) => turnOutcome(newTurn(inbound)),
      follow: (inbound, onEvent) => turnFollowed(newTurn(inbound), onEvent),
      resume: (turnId) => turnEvents({ begin: db.resumeTurn(turnId), platform: undefined, generation: undefined, bounded: false }),
      active,
      awaitRoom: running.awaitRoom
    }

    return {
      intake,
      closeIntake: Ref.set(open, false),
      active,
      drain: (deadline, force) =>
        Effect.gen(function*() {
          const before = yield* FiberSet.size(set)
          const ended = yield* Effect.raceAll([
            FiberSet.awaitEmpty(set).pipe(Effect.as<DrainEnd>("empty")),
            Effect.sleep(deadline).pipe(Effect.as<DrainEnd>("deadline")),
            Deferred.await(force).pipe(Effect.as<DrainEnd>("forced"))
          ])
          const left = yield* FiberSet.size(set)
          return { ended, drained: Math.max(0, before - left), left }
        }),
      interruptAll: (reason) =>
        Effect.gen(function*() {
          yield* Ref.set(interruptReason, reason)
          const fibers = Array.from(set)
          yield* Fiber.interruptAll(fibers)
          return fibers.length
        })
    }
  })
