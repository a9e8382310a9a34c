// The one place the Telegram adapter talks to the kernel: it reads each turn's events (TurnIntake)
// and records where answers went (TurnDelivery), for a chat message run as a turn and for a turn
// an earlier life left.
//
// Exactly once: the message goes in with its update_id as externalId (a redelivery is recognised,
// outcome Duplicate); the update is acknowledged only once the turn is recorded (its Accepted event); the
// placeholder's message_id is recorded with the turn (replyRef) before the answer is edited into
// it; and the answer is marked delivered only once Telegram has it, so a later life sends what was
// not (carryover Deliver) into the same message, or runs the turn again (carryover Resume).
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { TurnDeliveryService } from "../TurnDelivery.js"
import type { Carryover, TurnEvent, TurnIds, TurnIntake, TurnOutcome } from "../Adapter.js"
import { outcomeOf } from "../TurnIntake.js"
import { failedReply, notAnsweredReply, refusedReply, resumeNotice } from "./ChatReplies.js"
import type { Delivery } from "./Delivery.js"

/** A chat message that is to become a turn. */
export interface TurnJob {
  readonly updateId: number
  readonly chatId: number
  readonly text: string
  readonly user: string
}

export interface TelegramTurnsDeps {
  readonly delivery: Delivery
  /** Where each answer goes and whether it arrived, recorded with the turn. */
  readonly bookkeeping: TurnDeliveryService
  /** Acknowledges the update (the ledger), so Telegram and later lives forget it. */
  readonly markHandled: (updateId: number) => Effect.Effect<void>
  /** False once intake stopped: work still waiting in a chat's queue is left for the next life. */
  readonly intakeOpen: Effect.Effect<boolean>
}

export interface TelegramTurns {
  readonly runTurn: (job: TurnJob) => Effect.Effect<void>
  readonly runCarryover: (chatId: number, item: Carryover) => Effect.Effect<void>
}

/** A message id as recorded with the turn (SessionDB reply_ref); anything unreadable is none. */
export const refOf = (ref: string | null): number | null => {
  const id = ref === null ? NaN : Number(ref)
  return Number.isSafeInteger(id) && id > 0 ? id : null
}

/** Reads a turn to its end, running `onAccepted` once its message is recorded; the outcome. */
const untilOutcome = <E>(events: Stream.Stream<TurnEvent, E>, onAccepted: (ids: TurnIds) => Effect.Effect<void>) =>
  outcomeOf(Stream.tap(events, (event) => (event._tag === "Accepted" ? onAccepted(event.ids) : Effect.void)))

export const makeTelegramTurns = (intake: TurnIntake, deps: TelegramTurnsDeps): TelegramTurns => {
  const { bookkeeping, delivery, markHandled } = deps

  /** The placeholder, its message_id recorded with the turn first; null without one. */
  const preparePlaceholder = (chatId: number, ids: TurnIds): Effect.Effect<number | null> =>
    Effect.tap(delivery.postPlaceholder(chatId), (id) => (id === null ? Effect.void : bookkeeping.replyRef(ids, String(id))))

  /** Delivers a turn's final answer and records it delivered, so no later life sends it again. */
  const sendAnswer = (chatId: number, ids: TurnIds, text: string, placeholder: number | null): Effect.Effect<void> =>
    Effect.flatMap(delivery.sendText(chatId, text, placeholder), (settled) => (settled ? bookkeeping.delivered(ids) : Effect.void))

  /**
   * Tells the chat how a turn ended. Interrupted: nothing now (the chat was told at shutdown step 3,
   * and the next life resumes or reports the turn). Duplicate: the turn recorded the first time answers.
   */
  const answerOutcome = (chatId: number, outcome: TurnOutcome, placeholder: number | null): Effect.Effect<void> => {
    switch (outcome._tag) {
      case "Completed":
        return sendAnswer(chatId, outcome.ids, outcome.reply, placeholder)
      case "Failed":
        return sendAnswer(chatId, outcome.ids, failedReply(outcome.message), placeholder)
      case "Refused":
        return Effect.asVoid(delivery.sendText(chatId, refusedReply(outcome.reason)))
      case "Interrupted":
      case "Duplicate":
        return Effect.void
    }
  }

  const runTurn = (job: TurnJob): Effect.Effect<void> =>
    Effect.gen(function*() {
      // Intake stopped while this waited behind its chat's previous turn: left unacknowledged,
      // Telegram hands it to the next life.
      if (!(yield* deps.intakeOpen)) return
      const placeholder = yield* Ref.make<number | null>(null)
      const inbound = {
        platform: "telegram",
        sessionKey: String(job.chatId),
        text: job.text,
        history: [],
        user: job.user,
        externalId: String(job.updateId)
      }
      const result = yield* delivery.whileInFlight(
        job.chatId,
        Effect.either(untilOutcome(
          intake.submit(inbound),
          // Recorded: acknowledged to Telegram, and the answer's message prepared.
          (ids) => Effect.zipRight(markHandled(job.updateId), Effect.flatMap(preparePlaceholder(job.chatId, ids), (id) => Ref.set(placeholder, id)))
        ))
      )
      if (Either.isLeft(result)) {
        // Not recorded and not acknowledged: redelivered to the next life.
        return yield* Effect.logInfo(`telegram: message left for the next start: ${result.left.message}`)
      }
      const outcome = result.right
      if (outcome._tag === "Refused" && outcome.reason === "busy") {
        // Nothing recorded and nothing acknowledged: the message waits here, in its chat's order,
        // until a turn ends, then goes in again (a restart meanwhile gets it from Telegram again).
        yield* intake.awaitRoom ?? Effect.void
        return yield* runTurn(job)
      }
      // Duplicate: recorded in an earlier life. Refused: never recorded, but the user is told to
      // send it again. Either way nothing is left for Telegram to redeliver.
      if (outcome._tag === "Duplicate" || outcome._tag === "Refused") yield* markHandled(job.updateId)
      if (outcome._tag === "Duplicate") {
        yield* Effect.logInfo(`telegram: update ${job.updateId} was recorded by an earlier life; not answered twice`)
      }
      yield* answerOutcome(job.chatId, outcome, yield* Ref.get(placeholder))
    })

  /** A turn an earlier life left: run again (the user is told first), or its answer sent at last. */
  const runCarryover = (chatId: number, item: Carryover): Effect.Effect<void> =>
    Effect.gen(function*() {
      if (item._tag === "Deliver") {
        const text = item.outcome === "completed"
          ? item.text
          : item.outcome === "failed"
          ? failedReply(item.text)
          : notAnsweredReply(item.inbound, item.text)
        return yield* sendAnswer(chatId, item.ids, text, refOf(item.replyRef))
      }
      if (!(yield* deps.intakeOpen)) return
      yield* delivery.sendText(chatId, resumeNotice(item.inbound))
      // The answer goes into the message prepared in an earlier life, or a new placeholder.
      const placeholder = yield* Ref.make(refOf(item.replyRef))
      const result = yield* delivery.whileInFlight(
        chatId,
        Effect.either(untilOutcome(intake.resume(item.ids.turnId), (ids) =>
          Effect.flatMap(Ref.get(placeholder), (known) =>
            known !== null ? Effect.void : Effect.flatMap(preparePlaceholder(chatId, ids), (id) => Ref.set(placeholder, id)))))
      )
      // Intake closed before it ran: still resume_pending, for the next life.
      if (Either.isLeft(result)) return
      const outcome = result.right
      // A resumed turn that cannot run (e.g. its session was suspended meanwhile) stays as recorded.
      if (outcome._tag === "Refused") {
        return yield* Effect.logWarning(`telegram: turn ${item.ids.turnId} could not be resumed: ${outcome.message}`)
      }
      yield* answerOutcome(chatId, outcome, yield* Ref.get(placeholder))
    })

  return { runTurn, runCarryover }
}
