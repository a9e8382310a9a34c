// Owns every in-flight turn. Turns run as fibers in a FiberSet scoped to the gateway, so shutdown
// can wait for them (drain), then interrupt what is left; each outcome is written to the journal.
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type InboundMessage, IntakeClosed, type TurnHooks, type TurnIds, type TurnIntake, type TurnOutcome } from "../adapters/Adapter.js"
import { Agent, type AgentReport, type GenerationOptions } from "../agents/Agent.js"
import type { BegunTurn, SessionDbError, SessionDbService } from "../sessions/SessionDb.js"
import { turnLine } from "./TurnLog.js"

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

export const makeTurnSupervisor = (
  db: SessionDbService,
  /** Told the number of running turns whenever it changes (for active_turns in the state file). */
  onActiveChange: (active: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<TurnSupervisor, never, Scope.Scope | Agent> =>
  Effect.gen(function*() {
    const agent = yield* Agent
    const set = yield* FiberSet.make<TurnOutcome>()
    const open = yield* Ref.make(true)
    const interruptReason = yield* Ref.make("gateway shutting down")

    const runTurn = (
      begin: Effect.Effect<BegunTurn, SessionDbError>,
      hooks: TurnHooks | undefined,
      ids: Ref.Ref<TurnIds | undefined>,
      generation: GenerationOptions | undefined
    ) =>
      Effect.gen(function*() {
        const begun = yield* begin
        // Recorded by an earlier life, whose turn answers it (resumed or delivered after the restart).
        if (begun.duplicate) return { _tag: "Duplicate", ids: begun.ids } satisfies TurnOutcome as TurnOutcome
        yield* Ref.set(ids, begun.ids)
        if (hooks?.onAccepted) yield* hooks.onAccepted(begun.ids)
        const onChunk = hooks?.onChunk
        const reported = yield* Ref.make<AgentReport>({})
        const onReport = (report: AgentReport) =>
          Ref.update(reported, (known) => ({ ...known, ...report })).pipe(
            Effect.zipRight(hooks?.onReport?.(report) ?? Effect.void)
          )
        const chunks = yield* agent.respond({ sessionId: begun.ids.sessionId, messages: begun.context, generation, onReport }).pipe(
          onChunk === undefined ? (s) => s : Stream.tap(onChunk),
          Stream.runCollect
        )
        const reply = Chunk.join(chunks, "")
        yield* db.completeTurn(begun.ids, reply)
        const { finishReason, model, usage } = yield* Ref.get(reported)
        return { _tag: "Completed", ids: begun.ids, reply, model, usage, finishReason } satisfies TurnOutcome as TurnOutcome
      }).pipe(
        Effect.catchAll((error) =>
          Effect.gen(function*() {
            const known = yield* Ref.get(ids)
            if (known === undefined) {
              // The inbound message was never recorded: there is no turn to report on.
              const reason = error._tag === "SessionDbError" && error.reason === "suspended" ? "session_suspended" : "storage"
              yield* Effect.logWarning(`message refused (${reason}): ${error.message}`)
              return { _tag: "Refused", reason, message: error.message } satisfies TurnOutcome as TurnOutcome
            }
            yield* Effect.logWarning(`turn failed: ${error.message}`)
            if (error._tag === "AgentError") {
              yield* db.failTurn(known, error.message).pipe(
                Effect.catchAll((dbError) => Effect.logError(`cannot record failed turn ${known.turnId}: ${dbError.message}`))
              )
            }
            return { _tag: "Failed", ids: known, message: error.message } satisfies TurnOutcome as TurnOutcome
          })
        ),
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            const known = yield* Ref.get(ids)
            if (known === undefined) return
            const reason = yield* Ref.get(interruptReason)
            yield* db.interruptTurn(known, reason).pipe(
              Effect.catchAll((dbError) => Effect.logError(`cannot record interrupted turn ${known.turnId}: ${dbError.message}`))
            )
          })
        )
      )

    /** Runs one turn in the set and waits for it; the caller's going away does not cancel it. */
    const supervise = (
      platform: string,
      begin: Effect.Effect<BegunTurn, SessionDbError>,
      hooks: TurnHooks | undefined,
      generation?: GenerationOptions
    ) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const outcome = yield* superviseTurn(begin, hooks, generation)
        yield* Effect.log(turnLine(platform, outcome, (yield* Clock.currentTimeMillis) - started))
        return outcome
      })

    const superviseTurn = (
      begin: Effect.Effect<BegunTurn, SessionDbError>,
      hooks: TurnHooks | undefined,
      generation?: GenerationOptions
    ) =>
      Effect.gen(function*() {
        if (!(yield* Ref.get(open))) {
          return yield* new IntakeClosed({ message: "the gateway is not accepting new messages (shutting down)" })
        }
        const ids = yield* Ref.make<TurnIds | undefined>(undefined)
        const fiber = yield* FiberSet.run(set, runTurn(begin, hooks, ids, generation))
        yield* FiberSet.size(set).pipe(Effect.flatMap(onActiveChange))
        const exit = yield* Fiber.await(fiber)
        yield* FiberSet.size(set).pipe(Effect.flatMap(onActiveChange))
        if (Exit.isSuccess(exit)) return exit.value
        const known = yield* Ref.get(ids)
        if (known === undefined) {
          if (Cause.isInterruptedOnly(exit.cause)) {
            // The set closed between the intake check and the fork (or before the message was
            // recorded): the turn never started.
            return yield* new IntakeClosed({ message: "the gateway is not accepting new messages (shutting down)" })
          }
          yield* Effect.logError(`recording a message failed: ${Cause.pretty(exit.cause)}`)
          return { _tag: "Refused", reason: "storage", message: "the message could not be recorded" } satisfies TurnOutcome as TurnOutcome
        }
        const reason = yield* Ref.get(interruptReason)
        return { _tag: "Interrupted", ids: known, reason } satisfies TurnOutcome as TurnOutcome
      })

    const intake: TurnIntake = {
      submit: (inbound: InboundMessage, hooks) => supervise(inbound.platform, db.beginTurn(inbound), hooks, inbound.generation),
      resume: (turnId, hooks) => supervise("resumed", db.resumeTurn(turnId), hooks),
      delivered: (ids) =>
        db.markDelivered(ids).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`could not record that turn ${ids.turnId} was delivered (it may be sent again after a restart): ${error.message}`)
          )
        ),
      replyRef: (ids, ref) =>
        db.setReplyRef(ids, ref).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`could not record where turn ${ids.turnId}'s answer goes (it will be sent as a new message): ${error.message}`)
          )
        ),
      active: FiberSet.size(set)
    }

    return {
      intake,
      closeIntake: Ref.set(open, false),
      active: FiberSet.size(set),
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
