// The Telegram adapter: a Bot API long-poll loop feeding the kernel's TurnIntake, one turn at a
// time per chat and chats in parallel, replies sent back with sendMessage.
//
// No loss, no duplicates: an update is acknowledged to Telegram (the getUpdates offset passes it)
// only once its inbound message is durably recorded (onAccepted) or it needed no turn, and the
// UpdateLedger file remembers what was handled so a restart never submits it again.
//
// A SIGKILL between recording a message and writing the ledger makes Telegram deliver the update
// again: its update_id goes along as the message's externalId, so the SessionDB recognises it
// (outcome Duplicate) and the turn recorded the first time answers it. Once a turn is recorded a
// placeholder message is posted and its message_id recorded with the turn; the answer is edited
// into it, so delivering again after a crash is an edit of the same message, never a second
// answer. Answers are marked delivered once Telegram has them; whatever a dead life recorded but
// never delivered, or left to resume, comes back as carryover at startIntake and is handled
// before new messages of that chat.
//
// What the kernel can see: `health` (state "retrying" with the last error while the Bot API is
// failing; "polling" once it answers again).
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { ExitCode } from "../../lifecycle/ExitCode.js"
import {
  type Adapter,
  AdapterConnectError,
  type Carryover,
  type IntakeContext,
  type PlatformInfo,
  type StopReason,
  type TurnIds,
  type TurnIntake,
  type TurnOutcome
} from "../Adapter.js"
import { type BotApiError, makeBotApi, type TelegramUpdate, type TelegramUser } from "./BotApi.js"
import {
  type ChatCommand,
  failedReply,
  notAnsweredReply,
  notTextReply,
  parseCommand,
  placeholderText,
  privateBotReply,
  refusedReply,
  restartedNotice,
  restartingReply,
  restartNotAllowedReply,
  resumeNotice,
  statusReply,
  stopNotice
} from "./ChatReplies.js"
import { makePollerLock, noPollerLock } from "./PollerLock.js"
import { splitMessage } from "./SplitMessage.js"
import { loadUpdateLedger, type UpdateLedger } from "./UpdateLedger.js"

export interface TelegramAdapterOptions {
  readonly token: Redacted.Redacted<string>
  /** The variable the token came from, for messages (the token itself is never shown). */
  readonly tokenEnv: string
  readonly apiBaseUrl: string
  readonly pollTimeout: Duration.DurationInput
  /** User ids and lower-cased usernames (no @); empty allows everyone. */
  readonly allowedUsers: ReadonlyArray<number | string>
  /** The durable record of handled updates (`<home>/telegram_offset.json`). */
  readonly ledgerFile: string
  /** The gateway's home: when given, connect takes the machine-wide one-poller-per-token lock. */
  readonly home?: string
  /** Between two "typing" actions while a turn runs; default 4s. */
  readonly typingInterval?: Duration.DurationInput
  /** First retry delay after a 5xx or network error, doubled up to backoffCap; defaults 1s and 30s. */
  readonly backoffBase?: Duration.DurationInput
  readonly backoffCap?: Duration.DurationInput
  /** Bound on each Bot API call except the long poll (which gets poll_timeout + 10s); default 30s. */
  readonly requestTimeout?: Duration.DurationInput
  /**
   * While some update waits for its chat's previous turn, getUpdates answers at once with it again;
   * the loop then polls at this interval instead of long-polling. Default 1s.
   */
  readonly pendingPollInterval?: Duration.DurationInput
  /** Attempts for one sendMessage on 429/5xx/network errors; default 5. */
  readonly sendAttempts?: number
}

/** failed: the token was rejected after a start-up that could not reach the Bot API; nothing is polled. */
export type TelegramState = "disconnected" | "connected" | "polling" | "retrying" | "failed" | "stopped"

export interface TelegramStatus {
  readonly state: TelegramState
  /** The last Bot API error while retrying; null otherwise. */
  readonly error: string | null
  /** When retrying: how long until the next attempt. */
  readonly retryInMs: number | null
  readonly bot: string | null
  /** Highest update id handled along with every one before it. */
  readonly acknowledged: number
}

export interface TelegramAdapter extends Adapter {
  /** The adapter's own view, with the bot and the acknowledged update id (health is its summary). */
  readonly status: Effect.Effect<TelegramStatus>
}

/** One unit of work in a chat's queue; `updateId` is null for work carried over from an earlier life. */
type Job =
  | { readonly _tag: "Refuse"; readonly updateId: number; readonly chatId: number }
  | { readonly _tag: "NotText"; readonly updateId: number; readonly chatId: number }
  | {
    readonly _tag: "Turn"
    readonly updateId: number
    readonly chatId: number
    readonly text: string
    readonly user: string
  }
  | { readonly _tag: "Carryover"; readonly updateId: null; readonly chatId: number; readonly item: Carryover }

/** How one Bot API call ended: done, refused for good (4xx), or still failing when attempts ran out. */
type Attempt =
  | { readonly _tag: "Sent" }
  | { readonly _tag: "Refused"; readonly error: BotApiError }
  | { readonly _tag: "GaveUp" }

/** Telegram's answer to an edit that changes nothing: the text is already there. */
const isNotModified = (error: BotApiError): boolean => error.status === 400 && error.message.includes("message is not modified")

/** A message id as recorded with the turn (SessionDB reply_ref); anything unreadable is none. */
const refOf = (ref: string | null): number | null => {
  const id = ref === null ? NaN : Number(ref)
  return Number.isSafeInteger(id) && id > 0 ? id : null
}

/** The placeholder is a convenience: a slow Bot API must not hold up the turn for long. */
const placeholderTimeoutMillis = 5000

interface Worker {
  readonly queue: Queue.Queue<Job>
  readonly fiber: Fiber.RuntimeFiber<void, never>
}

/** How long disconnect lets replies already being sent go out before cutting them off. */
const replyGraceMillis = 2000

/** A /restart older than this when the next life starts is not announced as "restarted". */
const restartNoticeMaxAgeMillis = 10 * 60_000

/** Whether `from` is named in `allowed` (by id or username); nobody is named in an empty list. */
export const isListedUser = (allowed: ReadonlyArray<number | string>, from: TelegramUser | undefined): boolean => {
  if (from === undefined) return false
  const username = from.username?.toLowerCase()
  return allowed.some((entry) => entry === from.id || (username !== undefined && entry === username))
}

/** May talk to the bot: everyone when allowed_users is empty. */
export const isAllowedUser = (allowed: ReadonlyArray<number | string>, from: TelegramUser | undefined): boolean =>
  allowed.length === 0 || isListedUser(allowed, from)

/** May restart the gateway from chat: only users named in allowed_users, never "everyone". */
export const mayRestart = isListedUser

export const makeTelegramAdapter = (
  options: TelegramAdapterOptions
): Effect.Effect<TelegramAdapter, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const millis = (input: Duration.DurationInput | undefined, fallback: number) =>
      input === undefined ? fallback : Duration.toMillis(Duration.decode(input))
    const typingMillis = millis(options.typingInterval, 4000)
    const backoffBase = millis(options.backoffBase, 1000)
    const backoffCap = millis(options.backoffCap, 30_000)
    const requestTimeout = millis(options.requestTimeout, 30_000)
    const pendingPollMillis = millis(options.pendingPollInterval, 1000)
    const sendAttempts = Math.max(1, options.sendAttempts ?? 5)
    const pollSeconds = Math.max(1, Math.floor(Duration.toSeconds(Duration.decode(options.pollTimeout))))

    const api = yield* makeBotApi({ baseUrl: options.apiBaseUrl, token: options.token, timeout: requestTimeout })
    const pollerLock = options.home === undefined ? noPollerLock : makePollerLock({ ...options, home: options.home })
    const status = yield* SubscriptionRef.make<TelegramStatus>({
      state: "disconnected",
      error: null,
      retryInMs: null,
      bot: null,
      acknowledged: 0
    })

    const patchStatus = (patch: Partial<TelegramStatus>) => Ref.update(status, (s) => ({ ...s, ...patch }))

    // Only this adapter's fibers touch these; plain holders as in the HTTP adapter.
    let ledger: UpdateLedger | undefined
    let poller: Fiber.RuntimeFiber<void, never> | undefined
    let closed = true
    const workers = new Map<number, Worker>()
    const inFlight = new Set<number>()
    let replying = 0
    let botUsername: string | null = null
    /** /status and /restart run beside the chat queues (a long turn must not hold up /status). */
    const commandFibers = new Set<Fiber.RuntimeFiber<void, never>>()

    const annotate = Effect.annotateLogs({ adapter: "telegram" })

    /** Exponential with jitter: half the step fixed, half random, so restarted bots do not align. */
    const backoff = (attempt: number): number => {
      const step = Math.min(backoffCap, backoffBase * 2 ** Math.min(attempt, 20))
      return Math.round(step / 2 + Math.random() * (step / 2))
    }
    const delayFor = (error: BotApiError, attempt: number): number =>
      error.status === 429 && error.retryAfter !== undefined ? error.retryAfter * 1000 : backoff(attempt)

    const loadLedger = Effect.gen(function*() {
      if (ledger !== undefined) return ledger
      const loaded = yield* loadUpdateLedger(options.ledgerFile)
      if (loaded.warning !== undefined) yield* Effect.logWarning(`telegram update ledger ignored: ${loaded.warning}`)
      ledger = loaded.ledger
      const acknowledged = ledger.acknowledged()
      yield* patchStatus({ acknowledged })
      return ledger
    })

    const record = (what: string, change: (ledger: UpdateLedger) => void): Effect.Effect<void> =>
      Effect.gen(function*() {
        const current = yield* loadLedger
        yield* Effect.try(() => change(current)).pipe(
          Effect.catchAll((error) =>
            Effect.logError(`telegram: cannot record ${what} in ${options.ledgerFile}`, Cause.die(error))
          )
        )
        const acknowledged = current.acknowledged()
        yield* patchStatus({ acknowledged })
      })
    const markHandled = (updateId: number) => record(`update ${updateId}`, (l) => l.handled(updateId))

    /**
     * One sendMessage with retries on 429/5xx/network; a give-up is logged, never raised. Returns
     * whether the matter is settled: sent, or refused for good (e.g. the user blocked the bot).
     * Retries running out is not settled: a recorded answer is then tried again by the next life.
     */
    const deliver = (params: Record<string, unknown>, attempts = sendAttempts): Effect.Effect<boolean> =>
      Effect.map(attempt("sendMessage", params, attempts), (result) => result._tag !== "GaveUp")

    /** One call retried on 429/5xx/network errors; a refusal or running out of attempts is logged. */
    const attempt = (
      method: string,
      params: Record<string, unknown>,
      attempts: number,
      quietly: (error: BotApiError) => boolean = () => false
    ): Effect.Effect<Attempt> =>
      Effect.gen(function*() {
        for (let n = 0; ; n++) {
          const result = yield* Effect.either(api.call(method, params))
          if (Either.isRight(result)) return { _tag: "Sent" } as const
          const error = result.left
          if (!error.transient || n >= attempts - 1) {
            if (!quietly(error)) {
              yield* Effect.logWarning(`telegram: ${error.message}; giving up on this message`).pipe(
                Effect.annotateLogs({ chat: String(params.chat_id) })
              )
            }
            return error.transient ? { _tag: "GaveUp" } as const : { _tag: "Refused", error } as const
          }
          yield* Effect.sleep(delayFor(error, n))
        }
      })

    /**
     * The placeholder the answer will be edited into, its message_id recorded with the turn first:
     * a later life then edits the same message instead of sending a second answer. One quick
     * attempt; without it the answer is simply sent as a new message.
     */
    const preparePlaceholder = (chatId: number, ids: TurnIds, intake: TurnIntake): Effect.Effect<number | null> =>
      api.call<{ readonly message_id?: unknown }>("sendMessage", { chat_id: chatId, text: placeholderText }, placeholderTimeoutMillis).pipe(
        Effect.flatMap((message) =>
          typeof message.message_id === "number"
            ? Effect.as(intake.replyRef(ids, String(message.message_id)), message.message_id)
            : Effect.succeed(null)
        ),
        Effect.catchAll((error) =>
          Effect.logDebug(`telegram: no placeholder for the answer (${error.message}); it will be sent as a new message`).pipe(
            Effect.as(null)
          )
        )
      )

    /** Puts `text` into the placeholder; settled when it is there (or it already was). */
    const editInto = (chatId: number, messageId: number, text: string): Effect.Effect<boolean> =>
      Effect.flatMap(
        attempt("editMessageText", { chat_id: chatId, message_id: messageId, text }, sendAttempts, isNotModified),
        (result) => {
          if (result._tag === "Sent") return Effect.succeed(true)
          if (result._tag === "GaveUp") return Effect.succeed(false)
          // Delivered by an earlier life (or this one) already: the same text is there.
          if (isNotModified(result.error)) return Effect.succeed(true)
          // Gone or no longer editable: the answer goes out as a new message.
          return deliver({ chat_id: chatId, text })
        }
      )

    /**
     * Sends `text`, split at Telegram's limit; the first part into `placeholder` when there is one
     * (a long text's other parts follow as new messages). Settled when every part is. Counted in
     * `replying` so disconnect can let replies already on their way finish.
     */
    const sendText = (chatId: number, text: string, placeholder: number | null = null): Effect.Effect<boolean> =>
      Effect.acquireUseRelease(
        Effect.sync(() => replying++),
        () =>
          Effect.gen(function*() {
            const [first, ...rest] = splitMessage(text.trim() === "" ? "(no reply)" : text)
            let settled = placeholder === null
              ? yield* deliver({ chat_id: chatId, text: first })
              : yield* editInto(chatId, placeholder, first!)
            for (const part of rest) settled = (yield* deliver({ chat_id: chatId, text: part })) && settled
            return settled
          }),
        () => Effect.sync(() => replying--)
      )

    /** Delivers a turn's final answer and records it delivered, so no later life sends it again. */
    const sendAnswer = (
      chatId: number,
      ids: TurnIds,
      text: string,
      intake: TurnIntake,
      placeholder: number | null
    ): Effect.Effect<void> =>
      Effect.flatMap(sendText(chatId, text, placeholder), (settled) => (settled ? intake.delivered(ids) : Effect.void))

    const typing = (chatId: number): Effect.Effect<never> =>
      Effect.forever(
        api.call("sendChatAction", { chat_id: chatId, action: "typing" }).pipe(
          Effect.ignore,
          Effect.zipRight(Effect.sleep(typingMillis))
        )
      )

    /** A turn in flight in this chat: typing shown, the chat told if the gateway goes away. */
    const whileInFlight = <A, E>(chatId: number, turn: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.gen(function*() {
        inFlight.add(chatId)
        const typist = yield* Effect.fork(typing(chatId))
        return yield* turn.pipe(
          Effect.ensuring(Effect.zipRight(Fiber.interrupt(typist), Effect.sync(() => inFlight.delete(chatId))))
        )
      })

    /**
     * Tells the chat how a turn ended. Interrupted: nothing now (the chat was told at shutdown
     * step 3, and the next life resumes or reports the turn). Duplicate: the turn recorded the
     * first time answers. `placeholder` is the message the answer goes into, if there is one.
     */
    const answerOutcome = (
      chatId: number,
      outcome: TurnOutcome,
      intake: TurnIntake,
      placeholder: number | null
    ): Effect.Effect<void> => {
      switch (outcome._tag) {
        case "Completed":
          return sendAnswer(chatId, outcome.ids, outcome.reply, intake, placeholder)
        case "Failed":
          return sendAnswer(chatId, outcome.ids, failedReply(outcome.message), intake, placeholder)
        case "Refused":
          return Effect.asVoid(sendText(chatId, refusedReply(outcome.reason)))
        case "Interrupted":
        case "Duplicate":
          return Effect.void
      }
    }

    const runTurn = (job: Extract<Job, { _tag: "Turn" }>, intake: TurnIntake): Effect.Effect<void> =>
      Effect.gen(function*() {
        // Intake stopped while this waited behind its chat's previous turn: left unacknowledged,
        // Telegram hands it to the next life.
        if (closed) return
        let placeholder: number | null = null
        const result = yield* whileInFlight(
          job.chatId,
          intake.submit(
            {
              platform: "telegram",
              sessionKey: String(job.chatId),
              text: job.text,
              history: [],
              user: job.user,
              externalId: String(job.updateId)
            },
            {
              // Recorded: acknowledged to Telegram, and the answer's message prepared.
              onAccepted: (ids) =>
                Effect.zipRight(
                  markHandled(job.updateId),
                  Effect.map(preparePlaceholder(job.chatId, ids, intake), (id) => void (placeholder = id))
                )
            }
          ).pipe(Effect.either)
        )
        if (Either.isLeft(result)) {
          // Not recorded and not acknowledged: redelivered to the next life.
          return yield* Effect.logInfo(`telegram: message left for the next start: ${result.left.message}`)
        }
        const outcome = result.right
        // Duplicate: recorded in an earlier life. Refused: never recorded, but the user is told to
        // send it again. Either way nothing is left for Telegram to redeliver.
        if (outcome._tag === "Duplicate" || outcome._tag === "Refused") yield* markHandled(job.updateId)
        if (outcome._tag === "Duplicate") yield* Effect.logInfo(`telegram: update ${job.updateId} was recorded by an earlier life; not answered twice`)
        yield* answerOutcome(job.chatId, outcome, intake, placeholder)
      })

    /** A turn an earlier life left: run again (the user is told first), or its answer sent at last. */
    const runCarryover = (chatId: number, item: Carryover, intake: TurnIntake): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (item._tag === "Deliver") {
          const text = item.outcome === "completed"
            ? item.text
            : item.outcome === "failed"
            ? failedReply(item.text)
            : notAnsweredReply(item.inbound, item.text)
          return yield* sendAnswer(chatId, item.ids, text, intake, refOf(item.replyRef))
        }
        if (closed) return
        yield* sendText(chatId, resumeNotice(item.inbound))
        // The answer goes into the message prepared in an earlier life, or a new placeholder.
        let placeholder = refOf(item.replyRef)
        const result = yield* whileInFlight(
          chatId,
          Effect.either(intake.resume(item.ids.turnId, {
            onAccepted: (ids) =>
              placeholder !== null
                ? Effect.void
                : Effect.map(preparePlaceholder(chatId, ids, intake), (id) => void (placeholder = id))
          }))
        )
        // Intake closed before it ran: still resume_pending, for the next life.
        if (Either.isLeft(result)) return
        const outcome = result.right
        // A resumed turn that cannot run (e.g. its session was suspended meanwhile) stays as recorded.
        if (outcome._tag === "Refused") {
          return yield* Effect.logWarning(`telegram: turn ${item.ids.turnId} could not be resumed: ${outcome.message}`)
        }
        yield* answerOutcome(chatId, outcome, intake, placeholder)
      })

    const runJob = (job: Job, intake: TurnIntake): Effect.Effect<void> => {
      switch (job._tag) {
        case "Refuse":
          return Effect.zipRight(sendText(job.chatId, privateBotReply), markHandled(job.updateId))
        case "NotText":
          return Effect.zipRight(sendText(job.chatId, notTextReply), markHandled(job.updateId))
        case "Turn":
          return runTurn(job, intake)
        case "Carryover":
          return runCarryover(job.chatId, job.item, intake)
      }
    }

    const workerLoop = (queue: Queue.Queue<Job>, intake: TurnIntake): Effect.Effect<void> =>
      Effect.forever(
        Effect.flatMap(Queue.take(queue), (job) =>
          runJob(job, intake).pipe(
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause)
                ? Effect.failCause(cause)
                : Effect.logError(
                  job.updateId === null ? "telegram: carried-over turn failed" : `telegram: handling update ${job.updateId} failed`,
                  cause
                )
            ),
            Effect.annotateLogs({ chat: String(job.chatId), update: job.updateId ?? "carryover" })
          ))
      )

    const enqueue = (job: Job, intake: TurnIntake): Effect.Effect<void> =>
      Effect.gen(function*() {
        let worker = workers.get(job.chatId)
        if (worker === undefined) {
          const queue = yield* Queue.unbounded<Job>()
          const fiber = yield* Effect.forkDaemon(Effect.interruptible(workerLoop(queue, intake)))
          worker = { queue, fiber }
          workers.set(job.chatId, worker)
        }
        yield* Queue.offer(worker.queue, job)
      })

    /**
     * /status and /restart. The update is marked handled before anything else happens: a /restart
     * redelivered to the next life would restart it again, for ever.
     */
    const runCommand = (
      command: ChatCommand,
      updateId: number,
      chatId: number,
      from: TelegramUser | undefined,
      context: IntakeContext
    ): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* markHandled(updateId)
        if (command === "status") {
          const view = yield* context.status
          yield* sendText(chatId, statusReply(view, yield* Clock.currentTimeMillis))
          return
        }
        const who = from?.username !== undefined ? `@${from.username}` : `user ${from?.id ?? "unknown"}`
        if (!mayRestart(options.allowedUsers, from)) {
          yield* Effect.logWarning(`telegram: /restart refused for ${who}: not listed in allowed_users`)
          yield* sendText(chatId, restartNotAllowedReply)
          return
        }
        const requestedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        yield* record("the /restart notice", (l) => l.noteRestart({ chat_id: chatId, requested_at: requestedAt }))
        yield* sendText(chatId, restartingReply)
        yield* Effect.log(`telegram: /restart from ${who}`)
        yield* context.requestRestart(`telegram /restart by ${who}`)
      }).pipe(Effect.annotateLogs({ chat: String(chatId), update: updateId }))

    const startCommand = (job: Effect.Effect<void>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkDaemon(Effect.interruptible(job))
        commandFibers.add(fiber)
        fiber.addObserver(() => commandFibers.delete(fiber))
      })

    const dispatch = (update: TelegramUpdate, intake: TurnIntake, context: IntakeContext): Effect.Effect<void> => {
      const message = update.message
      const updateId = update.update_id
      if (message === undefined || typeof message.chat?.id !== "number") return markHandled(updateId)
      const chatId = message.chat.id
      if (!isAllowedUser(options.allowedUsers, message.from)) {
        return Effect.logInfo("telegram: refused a message from a user not in allowed_users").pipe(
          Effect.annotateLogs({ user_id: String(message.from?.id ?? "unknown"), chat: String(chatId) }),
          Effect.zipRight(enqueue({ _tag: "Refuse", updateId, chatId }, intake))
        )
      }
      if (typeof message.text !== "string") return enqueue({ _tag: "NotText", updateId, chatId }, intake)
      const command = parseCommand(message.text, botUsername)
      if (command !== undefined) return startCommand(runCommand(command, updateId, chatId, message.from, context))
      const user = message.from?.username ?? String(message.from?.id ?? chatId)
      return enqueue({ _tag: "Turn", updateId, chatId, text: message.text, user }, intake)
    }

    const pollLoop = (intake: TurnIntake, context: IntakeContext): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (!handshakeDone && !(yield* handshakeWithRetry)) return
        const current = yield* loadLedger
        let failures = 0
        while (true) {
          const result = yield* Effect.either(
            api.call<ReadonlyArray<TelegramUpdate>>(
              "getUpdates",
              { offset: current.offset(), timeout: pollSeconds, allowed_updates: ["message"] },
              pollSeconds * 1000 + 10_000
            )
          )
          if (Either.isLeft(result)) {
            const error = result.left
            // Revoked while running (e.g. /revoke at @BotFather): retrying cannot help.
            if (error.tokenRejected) {
              yield* patchStatus({ state: "failed", error: tokenRejected(error), retryInMs: null })
              return yield* Effect.logError(`telegram: ${tokenRejected(error)}; not polling until the gateway is restarted with a valid token`)
            }
            const wait = delayFor(error, failures)
            failures += 1
            yield* patchStatus({ state: "retrying", error: error.message, retryInMs: wait })
            yield* Effect.logWarning(`telegram: ${error.message}; retrying in ${wait}ms`)
            yield* Effect.sleep(wait)
            continue
          }
          if (failures > 0) yield* Effect.logInfo("telegram: the Bot API answers again")
          failures = 0
          yield* patchStatus({ state: "polling", error: null, retryInMs: null })
          let fresh = 0
          for (const update of result.right) {
            const id = update.update_id
            if (typeof id !== "number") continue
            if (!current.isNew(id)) {
              yield* record(`update ${id} as seen`, (l) => l.skipped(id))
              continue
            }
            fresh += 1
            current.dispatched(id)
            yield* dispatch(update, intake, context)
          }
          // Only updates still waiting for their chat came back: Telegram would answer at once again.
          if (fresh === 0 && result.right.length > 0) yield* Effect.sleep(pendingPollMillis)
        }
      }).pipe(annotate)

    const tokenRejected = (error: BotApiError) =>
      `the bot token in $${options.tokenEnv} was rejected by the Telegram Bot API (${error.status}); check the token from @BotFather`

    /** Who the bot is, and a webhook removed (it makes getUpdates fail with 409); pending updates are kept. */
    const handshake: Effect.Effect<TelegramUser, BotApiError> = Effect.gen(function*() {
      const me = yield* api.call<TelegramUser>("getMe", {})
      yield* api.call("deleteWebhook", { drop_pending_updates: false }).pipe(
        Effect.catchAll((error) =>
          error.tokenRejected
            ? Effect.fail(error)
            : Effect.logWarning(`telegram: could not remove a webhook (long polling may fail with 409): ${error.message}`)
        )
      )
      botUsername = me.username ?? null
      yield* patchStatus({ bot: botUsername, error: null, retryInMs: null })
      return me
    })
    let handshakeDone = false

    /**
     * The poll loop's first step when connect could not reach the Bot API: the handshake with
     * backoff. False when the token turns out to be rejected (state "failed": nothing is polled).
     */
    const handshakeWithRetry: Effect.Effect<boolean> = Effect.gen(function*() {
      for (let failures = 0; ; failures++) {
        const result = yield* Effect.either(handshake)
        if (Either.isRight(result)) {
          handshakeDone = true
          yield* Effect.log(`telegram: connected to the Bot API as ${botUsername ?? String(result.right.id)}`)
          return true
        }
        const error = result.left
        if (error.tokenRejected) {
          yield* patchStatus({ state: "failed", error: tokenRejected(error), retryInMs: null })
          yield* Effect.logError(`telegram: ${tokenRejected(error)}; not polling until the gateway is restarted with a valid token`)
          return false
        }
        const wait = delayFor(error, failures)
        yield* patchStatus({ state: "retrying", error: error.message, retryInMs: wait })
        yield* Effect.logWarning(`telegram: ${error.message}; retrying in ${wait}ms`)
        yield* Effect.sleep(wait)
      }
    }).pipe(annotate)

    /**
     * A rejected token is a configuration error (78). A Bot API that cannot be reached or answers
     * 5xx/429 now may well answer in a minute: the adapter starts in state "retrying" and the poll
     * loop keeps trying, rather than the gateway failing or running on without Telegram.
     */
    const connect: Effect.Effect<PlatformInfo, AdapterConnectError> = Effect.gen(function*() {
      yield* pollerLock.take
      yield* loadLedger
      const result = yield* Effect.either(handshake)
      if (Either.isRight(result)) {
        handshakeDone = true
        yield* patchStatus({ state: "connected" })
        const info: PlatformInfo = { bot: botUsername, bot_id: result.right.id, api_base_url: options.apiBaseUrl }
        return info
      }
      const error = result.left
      if (error.tokenRejected) {
        return yield* new AdapterConnectError({ adapter: "telegram", message: tokenRejected(error), exitCode: ExitCode.Config })
      }
      if (!error.transient) {
        return yield* new AdapterConnectError({
          adapter: "telegram",
          message: `telegram adapter cannot connect: ${error.message}`,
          exitCode: ExitCode.Unavailable
        })
      }
      yield* patchStatus({ state: "retrying", error: error.message, retryInMs: null })
      return { bot: null, api_base_url: options.apiBaseUrl, state: "retrying", error: error.message }
    })

    const startIntake = (intake: TurnIntake, context: IntakeContext): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (poller !== undefined) return
        const current = yield* loadLedger
        closed = false
        if (handshakeDone) yield* patchStatus({ state: "polling" })
        // Queued before polling starts, so each chat's carried-over turns come before its new messages.
        for (const item of context.carryover) {
          const chatId = Number(item.chatKey)
          if (!Number.isSafeInteger(chatId)) {
            yield* Effect.logWarning(`telegram: turn ${item.ids.turnId} has no usable chat id (${JSON.stringify(item.chatKey)}); left as recorded`)
            continue
          }
          yield* enqueue({ _tag: "Carryover", updateId: null, chatId, item }, intake)
        }
        const notice = current.takeRestartNotice()
        const age = notice === null ? Infinity : (yield* Clock.currentTimeMillis) - Date.parse(notice.requested_at)
        if (notice !== null && age >= 0 && age <= restartNoticeMaxAgeMillis) {
          const view = yield* context.status
          yield* startCommand(Effect.asVoid(sendText(notice.chat_id, restartedNotice(view.pid))))
        }
        // Forked as a daemon (owned by this adapter, not the caller's scope) and interruptible even
        // when startIntake runs in an uninterruptible region.
        poller = yield* Effect.forkDaemon(Effect.interruptible(pollLoop(intake, context)))
      })

    const stopPolling = Effect.suspend(() => {
      closed = true
      const current = poller
      poller = undefined
      // Interrupting the fiber aborts the long-poll request.
      return current === undefined ? Effect.void : Fiber.interrupt(current)
    })

    const stopIntake: Effect.Effect<void> = Effect.zipRight(
      stopPolling,
      patchStatus({ state: "stopped", retryInMs: null })
    )

    const notifyInFlight = (reason: StopReason): Effect.Effect<void> =>
      Effect.forEach(
        [...inFlight],
        (chatId) => deliver({ chat_id: chatId, text: stopNotice(reason) }, 1),
        { concurrency: "unbounded", discard: true }
      ).pipe(annotate)

    const disconnect: Effect.Effect<void> = Effect.gen(function*() {
      yield* stopPolling
      // Nothing polls any more: the next gateway for this token (a successor) may start at once.
      yield* pollerLock.release
      // Replies already on their way get a moment; then every worker is cut off.
      for (let waited = 0; replying > 0 && waited < replyGraceMillis; waited += 50) yield* Effect.sleep(50)
      const fibers = [...[...workers.values()].map((worker) => worker.fiber), ...commandFibers]
      workers.clear()
      commandFibers.clear()
      yield* Fiber.interruptAll(fibers)
      yield* patchStatus({ state: "disconnected", retryInMs: null })
    })

    return {
      name: "telegram",
      connect,
      startIntake,
      stopIntake,
      notifyInFlight,
      disconnect,
      status: Ref.get(status),
      health: status.changes.pipe(
        Stream.map((s) => ({ state: s.state, error: s.error })),
        Stream.changesWith((a, b) => a.state === b.state && a.error === b.error)
      )
    } satisfies TelegramAdapter
  })
