// Everything the bot sends: a placeholder to edit the answer into, the answer (split at Telegram's
// limit, edited into its placeholder or sent new), "typing" while a turn runs, and the notice to
// chats in flight when the gateway stops. Sends retry on 429/5xx/network errors through the retry
// schedule; replies on their way are counted so disconnect can wait for them (on a change, not a poll).
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { StopReason } from "../Adapter.js"
import { type BotApi, type BotApiError, isTransient, SentMessage } from "./BotApi.js"
import { retrySchedule, type RetryPolicy } from "./BotApiRetry.js"
import { placeholderText, stopNotice } from "./ChatReplies.js"
import { splitMessage } from "./SplitMessage.js"

export interface DeliveryOptions {
  readonly api: BotApi
  readonly retry: RetryPolicy
  /** Calls in all for one message on 429/5xx/network errors. */
  readonly sendAttempts: number
  readonly typingInterval: Duration.DurationInput
}

export interface Delivery {
  /**
   * Sends `text`, split at Telegram's limit; the first part into `placeholder` when there is one.
   * True when the matter is settled: every part sent, or refused for good (e.g. the user blocked
   * the bot). Retries running out is not settled: a recorded answer is tried again by the next life.
   */
  readonly sendText: (chatId: number, text: string, placeholder?: number | null) => Effect.Effect<boolean>
  /** One quick try at the message an answer will be edited into: its message_id, or null without one. */
  readonly postPlaceholder: (chatId: number) => Effect.Effect<number | null>
  /** Runs a turn of this chat with "typing" shown and the chat counted as in flight. */
  readonly whileInFlight: <A, E>(chatId: number, turn: Effect.Effect<A, E>) => Effect.Effect<A, E>
  /** Tells every chat with a turn in flight that the gateway is going away (one try each). */
  readonly notifyInFlight: (reason: StopReason) => Effect.Effect<void>
  /** Returns once no reply is on its way, or after `grace`. */
  readonly repliesSettled: (grace: Duration.DurationInput) => Effect.Effect<void>
}

/** How one Bot API call ended: done, refused for good (4xx), or still failing when attempts ran out. */
type Attempt =
  | { readonly _tag: "Sent" }
  | { readonly _tag: "Refused"; readonly error: BotApiError }
  | { readonly _tag: "GaveUp" }

/** Telegram's answer to an edit that changes nothing: the text is already there. */
export const isNotModified = (error: BotApiError): boolean =>
  error._tag === "BotApiPermanent" && error.status === 400 && error.message.includes("message is not modified")

/** The placeholder is a convenience: a slow Bot API must not hold up the turn for long. */
const placeholderTimeout = Duration.seconds(5)

export const makeDelivery = (options: DeliveryOptions): Effect.Effect<Delivery> =>
  Effect.gen(function*() {
    const { api } = options
    const replying = yield* SubscriptionRef.make(0)
    const inFlight = new Set<number>()

    /** One call retried on transient errors; a refusal or running out of attempts is logged. */
    const attempt = (
      method: string,
      params: Record<string, unknown>,
      attempts: number,
      quietly: (error: BotApiError) => boolean = () => false
    ): Effect.Effect<Attempt> =>
      api.call(method, params, Schema.Unknown).pipe(
        Effect.retry({ schedule: retrySchedule(options.retry, attempts), while: isTransient }),
        Effect.as<Attempt>({ _tag: "Sent" }),
        Effect.catchAll((error) =>
          Effect.as(
            quietly(error) ? Effect.void : Effect.logWarning(`telegram: ${error.message}; giving up on this message`).pipe(
              Effect.annotateLogs({ chat: String(params.chat_id) })
            ),
            isTransient(error) ? { _tag: "GaveUp" } as const : { _tag: "Refused", error } as const
          )
        )
      )

    const deliver = (params: Record<string, unknown>, attempts = options.sendAttempts): Effect.Effect<boolean> =>
      Effect.map(attempt("sendMessage", params, attempts), (result) => result._tag !== "GaveUp")

    /** Puts `text` into the placeholder; settled when it is there (or it already was). */
    const editInto = (chatId: number, messageId: number, text: string): Effect.Effect<boolean> =>
      Effect.flatMap(
        attempt("editMessageText", { chat_id: chatId, message_id: messageId, text }, options.sendAttempts, isNotModified),
        (result) => {
          if (result._tag === "Sent") return Effect.succeed(true)
          if (result._tag === "GaveUp") return Effect.succeed(false)
          // Delivered by an earlier life (or this one) already: the same text is there.
          if (isNotModified(result.error)) return Effect.succeed(true)
          // Gone or no longer editable: the answer goes out as a new message.
          return deliver({ chat_id: chatId, text })
        }
      )

    const counted = <A>(send: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.acquireUseRelease(
        SubscriptionRef.update(replying, (n) => n + 1),
        () => send,
        () => SubscriptionRef.update(replying, (n) => n - 1)
      )

    const sendText = (chatId: number, text: string, placeholder: number | null = null): Effect.Effect<boolean> =>
      counted(Effect.gen(function*() {
        const [first, ...rest] = splitMessage(text.trim() === "" ? "(no reply)" : text)
        let settled = placeholder === null
          ? yield* deliver({ chat_id: chatId, text: first })
          : yield* editInto(chatId, placeholder, first!)
        for (const part of rest) settled = (yield* deliver({ chat_id: chatId, text: part })) && settled
        return settled
      }))

    const postPlaceholder = (chatId: number): Effect.Effect<number | null> =>
      api.call("sendMessage", { chat_id: chatId, text: placeholderText }, SentMessage, placeholderTimeout).pipe(
        Effect.map((message): number | null => message.message_id),
        Effect.catchAll((error) =>
          Effect.as(Effect.logDebug(`telegram: no placeholder for the answer (${error.message}); it will be sent as a new message`), null)
        )
      )

    const typing = (chatId: number): Effect.Effect<unknown> =>
      api.call("sendChatAction", { chat_id: chatId, action: "typing" }, Schema.Unknown).pipe(
        Effect.ignore,
        Effect.repeat(Schedule.spaced(options.typingInterval))
      )

    const whileInFlight = <A, E>(chatId: number, turn: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.scoped(Effect.gen(function*() {
        yield* Effect.acquireRelease(Effect.sync(() => inFlight.add(chatId)), () => Effect.sync(() => inFlight.delete(chatId)))
        yield* Effect.forkScoped(typing(chatId))
        return yield* turn
      }))

    const notifyInFlight = (reason: StopReason): Effect.Effect<void> =>
      Effect.forEach([...inFlight], (chatId) => deliver({ chat_id: chatId, text: stopNotice(reason) }, 1), {
        concurrency: "unbounded",
        discard: true
      })

    const repliesSettled = (grace: Duration.DurationInput): Effect.Effect<void> =>
      replying.changes.pipe(
        Stream.takeUntil((n) => n === 0),
        Stream.runDrain,
        Effect.timeoutOption(grace),
        Effect.asVoid
      )

    return { sendText, postPlaceholder, whileInFlight, notifyInFlight, repliesSettled }
  })
