// The Telegram adapter: a Bot API long poll feeding the kernel's TurnIntake, one turn at a time per
// chat and chats in parallel, replies sent back with sendMessage. This module only wires the parts
// together inside the adapter's own scope (closed by disconnect):
//   BotApi (HTTP + Schema) → Poller (Stream of getUpdates, retried by BotApiRetry's Schedule)
//   → UpdateRouting → ChatWorkers (FiberMap by chat) → TelegramTurns (the intake) → Delivery;
//   chat commands in Commands, the update ledger in HandledUpdates, the status in TelegramStatus.
//
// No loss, no duplicates: an update is acknowledged to Telegram (the getUpdates offset passes it)
// only once its inbound message is durably recorded or it needed no turn, and the ledger file
// remembers what was handled so a restart never submits it again (TelegramTurns says how answers
// are delivered exactly once). What the kernel can see: `health` ("retrying" with the last error
// while the Bot API is failing; "polling" once it answers again), also as a SubscriptionRef.
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberHandle from "effect/FiberHandle"
import * as FiberSet from "effect/FiberSet"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { ExitCode } from "../../lifecycle/ExitCode.js"
import {
  type Adapter,
  AdapterConnectError,
  type Carryover,
  type IntakeContext,
  type PlatformHealth,
  type PlatformInfo,
  type TurnIntake
} from "../Adapter.js"
import { isTokenRejected, isTransient, makeBotApi, redactToken, type TelegramUpdate } from "./BotApi.js"
import type { RetryPolicy } from "./BotApiRetry.js"
import { notTextReply, privateBotReply } from "./ChatReplies.js"
import { makeChatBarrier } from "./ChatBarrier.js"
import { makeChatWorkers } from "./ChatWorkers.js"
import { type CommandDeps, runCommand, takeRestartAnnouncement } from "./Commands.js"
import { makeDelivery } from "./Delivery.js"
import { handshake, handshakeWithRetry } from "./Handshake.js"
import { makeHandledUpdates } from "./HandledUpdates.js"
import { runPoller, tokenRejectedMessage } from "./Poller.js"
import { makePollerLock, noPollerLock } from "./PollerLock.js"
import type { ReplicaOptions } from "./ReplicaPolling.js"
import { makeTelegramTurns, type TelegramTurns, type TurnJob } from "./TelegramTurns.js"
import { makeStatusCell, type TelegramStatus } from "./TelegramStatus.js"
import { routeUpdate } from "./UpdateRouting.js"
import { TurnDelivery } from "../TurnDelivery.js"

export { isAllowedUser, isListedUser, mayRestart } from "./UpdateRouting.js"
export type { TelegramState, TelegramStatus } from "./TelegramStatus.js"

export interface TelegramAdapterOptions {
  /** A plain string (from an older config loader) is wrapped at once; it is never logged. */
  readonly token: Redacted.Redacted<string> | string
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
  /**
   * sessions.engine postgres: replicas share the token, one polls at a time (ReplicaPolling.ts); the
   * ledger is in the database and the machine-wide poller lock is not taken.
   */
  readonly replicas?: ReplicaOptions
}

export interface TelegramAdapter extends Adapter {
  /** The adapter's own view, with the bot and the acknowledged update id (health is its summary). */
  readonly status: Effect.Effect<TelegramStatus>
  /** The current value, then each change: the kernel follows it into gateway_state.json. */
  readonly health: Stream.Stream<PlatformHealth>
  /** Health as it is now. */
  readonly healthRef: SubscriptionRef.SubscriptionRef<PlatformHealth>
}

/** One unit of work in a chat's queue, run in order with the chat's other work. */
type ChatJob =
  | { readonly _tag: "Refuse"; readonly updateId: number; readonly chatId: number }
  | { readonly _tag: "NotText"; readonly updateId: number; readonly chatId: number }
  | { readonly _tag: "Turn"; readonly turn: TurnJob }
  | { readonly _tag: "Carryover"; readonly chatId: number; readonly item: Carryover; readonly done?: Effect.Effect<void> }

/** How long disconnect lets replies already being sent go out before cutting them off. */
const replyGrace = Duration.seconds(2)

export const makeTelegramAdapter = (
  options: TelegramAdapterOptions
): Effect.Effect<TelegramAdapter, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const duration = (input: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
      Duration.decode(input ?? fallback)
    const retry: RetryPolicy = { base: duration(options.backoffBase, "1 second"), cap: duration(options.backoffCap, "30 seconds") }
    const pollSeconds = Math.max(1, Math.floor(Duration.toSeconds(Duration.decode(options.pollTimeout))))

    const token = redactToken(options.token)
    const api = yield* makeBotApi({ baseUrl: options.apiBaseUrl, token, timeout: duration(options.requestTimeout, "30 seconds") })
    const pollerLock = options.home === undefined || options.replicas !== undefined
      ? noPollerLock
      : makePollerLock({ ...options, token, home: options.home })
    const cell = yield* makeStatusCell
    // Loaded only with replicas: a single gateway never evaluates the PostgreSQL driver for Telegram.
    const replicaOptions = options.replicas
    const replicas = replicaOptions === undefined
      ? undefined
      : yield* Effect.flatMap(Effect.promise(() => import("./ReplicaPolling.js")), (m) => m.makeReplicaPolling({ ...replicaOptions, token, cell }))
    const updates = replicas?.updates ?? (yield* makeHandledUpdates(options.ledgerFile, cell))
    const delivery = yield* makeDelivery({
      api,
      retry,
      sendAttempts: Math.max(1, options.sendAttempts ?? 5),
      typingInterval: duration(options.typingInterval, "4 seconds")
    })

    // Everything the adapter runs lives in this scope: the poller, the chat workers and the
    // commands. disconnect closes it, so nothing outlives the adapter.
    const scope = yield* Scope.make()
    const poller = yield* Scope.extend(FiberHandle.make<void, never>(), scope)
    const commands = yield* Scope.extend(FiberSet.make<void, never>(), scope)
    const intakeOpen = yield* Ref.make(false)
    const started = yield* Ref.make(false)
    const handshakeDone = yield* Ref.make(false)

    const inScope = <A>(effect: Effect.Effect<A>) => Effect.interruptible(effect).pipe(Effect.annotateLogs({ adapter: "telegram" }))
    const spawnCommand = (work: Effect.Effect<void>) => Effect.asVoid(FiberSet.run(commands, inScope(work)))

    /**
     * A rejected token is a configuration error (78). A Bot API that cannot be reached or answers
     * 5xx/429 now may well answer in a minute: the adapter starts in state "retrying" and the
     * poller keeps trying, rather than the gateway failing or running on without Telegram.
     */
    const connect: Effect.Effect<PlatformInfo, AdapterConnectError> = Effect.gen(function*() {
      yield* pollerLock.take
      yield* updates.ledger
      const result = yield* Effect.either(handshake(api, cell))
      if (Either.isRight(result)) {
        yield* Ref.set(handshakeDone, true)
        yield* cell.patch({ state: "connected" })
        const info: PlatformInfo = { bot: result.right.username ?? null, bot_id: result.right.id, api_base_url: options.apiBaseUrl }
        return info
      }
      const error = result.left
      if (isTokenRejected(error)) {
        return yield* new AdapterConnectError({ adapter: "telegram", message: tokenRejectedMessage(options.tokenEnv, error), exitCode: ExitCode.Config })
      }
      if (!isTransient(error)) {
        return yield* new AdapterConnectError({
          adapter: "telegram",
          message: `telegram adapter cannot connect: ${error.message}`,
          exitCode: ExitCode.Unavailable
        })
      }
      yield* cell.patch({ state: "retrying", error: error.message, retryInMs: null })
      return { bot: null, api_base_url: options.apiBaseUrl, state: "retrying", error: error.message }
    })

    const runJob = (turns: TelegramTurns, job: ChatJob): Effect.Effect<void> => {
      switch (job._tag) {
        case "Refuse":
          return Effect.zipRight(delivery.sendText(job.chatId, privateBotReply), updates.markHandled(job.updateId))
        case "NotText":
          return Effect.zipRight(delivery.sendText(job.chatId, notTextReply), updates.markHandled(job.updateId))
        case "Turn":
          return turns.runTurn(job.turn).pipe(Effect.annotateLogs({ chat: String(job.turn.chatId), update: job.turn.updateId }))
        case "Carryover":
          return turns.runCarryover(job.chatId, job.item).pipe(
            Effect.ensuring(job.done ?? Effect.void),
            Effect.annotateLogs({ chat: String(job.chatId), update: "carryover" })
          )
      }
    }

    const startIntake = (intake: TurnIntake, context: IntakeContext): Effect.Effect<void, never, TurnDelivery> =>
      Effect.gen(function*() {
        if (yield* Ref.getAndSet(started, true)) return
        yield* updates.ledger
        yield* Ref.set(intakeOpen, true)
        // With replicas, the leader election says whether this one polls.
        if (replicas === undefined && (yield* Ref.get(handshakeDone))) yield* cell.patch({ state: "polling" })
        const turns = makeTelegramTurns(intake, { delivery, bookkeeping: yield* TurnDelivery, markHandled: updates.markHandled, intakeOpen: Ref.get(intakeOpen) })
        const track = replicas?.activity.around ?? ((_chatId: number, job: Effect.Effect<void>) => job)
        const chatOf = (job: ChatJob) => (job._tag === "Turn" ? job.turn.chatId : job.chatId)
        // With replicas, a chat's message first waits for the chat's turns another replica left (ChatBarrier.ts).
        const unfinishedTurns = context.unfinishedTurns
        const barrier = replicas === undefined || unfinishedTurns === undefined
          ? undefined
          : makeChatBarrier<ChatJob>({
            unfinished: (chatId) => unfinishedTurns(String(chatId)),
            runItem: (job) => runJob(turns, job),
            nudge: replicas.resumeNow,
            recheck: Duration.millis(500),
            limit: Duration.minutes(2)
          })
        const held = (job: ChatJob) => (barrier !== undefined && job._tag === "Turn" ? barrier.hold(job.turn.chatId) : Effect.void)
        const workers = yield* Scope.extend(
          makeChatWorkers((job: ChatJob) => inScope(track(chatOf(job), Effect.zipRight(held(job), runJob(turns, job))))),
          scope
        )
        const commandDeps: CommandDeps = { allowedUsers: options.allowedUsers, updates, delivery, context }

        // Queued before polling starts, so each chat's carried-over turns come before its new messages.
        // With replicas, the leader takes them from the database instead (whichever replica left them).
        for (const item of replicas === undefined ? context.carryover : []) {
          const chatId = Number(item.chatKey)
          if (!Number.isSafeInteger(chatId)) {
            yield* Effect.logWarning(`telegram: turn ${item.ids.turnId} has no usable chat id (${JSON.stringify(item.chatKey)}); left as recorded`)
            continue
          }
          yield* workers.offer(chatId, { _tag: "Carryover", chatId, item })
        }
        if (replicas === undefined) yield* spawnCommand(yield* takeRestartAnnouncement(commandDeps))

        const dispatch = (update: TelegramUpdate): Effect.Effect<void> =>
          Effect.gen(function*() {
            const route = routeUpdate(update, options.allowedUsers, (yield* SubscriptionRef.get(cell.status)).bot)
            switch (route._tag) {
              case "Ignore":
                return yield* updates.markHandled(route.updateId)
              case "Refuse":
                yield* Effect.logInfo("telegram: refused a message from a user not in allowed_users").pipe(
                  Effect.annotateLogs({ user_id: route.userId, chat: String(route.chatId) })
                )
                return yield* workers.offer(route.chatId, route)
              case "NotText":
                return yield* workers.offer(route.chatId, route)
              case "Command":
                return yield* spawnCommand(runCommand(commandDeps, route))
              case "Turn":
                // Back-pressure: no more updates are taken (nor acknowledged) while turns are at the limit.
                yield* intake.awaitRoom ?? Effect.void
                return yield* workers.offer(route.chatId, { _tag: "Turn", turn: route })
            }
          })

        const poll = Effect.gen(function*() {
          if (!(yield* Ref.get(handshakeDone))) {
            if (!(yield* handshakeWithRetry(api, cell, retry, options.tokenEnv))) return
            yield* Ref.set(handshakeDone, true)
          }
          yield* runPoller({
            api,
            cell,
            updates,
            retry,
            tokenEnv: options.tokenEnv,
            pollSeconds,
            pendingPollInterval: duration(options.pendingPollInterval, "1 second"),
            dispatch
          })
        })
        const replicated = replicas?.run({
          poll,
          onTerm: Effect.zipRight(barrier?.beginTerm ?? Effect.void, Effect.flatMap(takeRestartAnnouncement(commandDeps), spawnCommand)),
          carryoverNow: context.carryoverNow ?? Effect.succeed([]),
          offer: (chatId, item, done) => {
            const job: ChatJob = { _tag: "Carryover", chatId, item, done }
            return Effect.flatMap(barrier?.handOver(chatId, job) ?? Effect.succeed(false), (taken) => (taken ? Effect.void : workers.offer(chatId, job)))
          }
        })
        yield* FiberHandle.run(poller, inScope(replicated ?? poll))
      })

    /** Nothing more is taken: the long poll is aborted, and work still queued stays for the next life. */
    const stopPolling = Effect.zipRight(Ref.set(intakeOpen, false), FiberHandle.clear(poller))

    const stopIntake: Effect.Effect<void> = Effect.zipRight(stopPolling, cell.patch({ state: "stopped", retryInMs: null }))

    const disconnect: Effect.Effect<void> = Effect.gen(function*() {
      yield* stopPolling
      // Nothing polls any more: the next gateway for this token (a successor) may start at once.
      yield* pollerLock.release
      // Replies already on their way get a moment; then every worker and command is cut off.
      yield* delivery.repliesSettled(replyGrace)
      yield* Scope.close(scope, Exit.void)
      yield* cell.patch({ state: "disconnected", retryInMs: null })
    })

    return {
      name: "telegram",
      connect,
      startIntake,
      stopIntake,
      notifyInFlight: (reason) => delivery.notifyInFlight(reason).pipe(Effect.annotateLogs({ adapter: "telegram" })),
      disconnect,
      status: SubscriptionRef.get(cell.status),
      health: cell.health.changes,
      healthRef: cell.health
    } satisfies TelegramAdapter
  })
