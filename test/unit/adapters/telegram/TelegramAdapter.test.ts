import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import {
  type Carryover,
  type InboundMessage,
  IntakeClosed,
  TurnEvent,
  type TurnIds,
  type TurnIntake,
  type TurnOutcome
} from "../../../../src/adapters/Adapter.js"
import type { TurnDelivery } from "../../../../src/adapters/TurnDelivery.js"
import {
  failedReply,
  notAnsweredReply,
  privateBotReply,
  refusedReply,
  restartedNotice,
  restartingReply,
  restartNotAllowedReply,
  resumeNotice,
  stopNotice
} from "../../../../src/adapters/telegram/ChatReplies.js"
import { makeTelegramAdapter, type TelegramAdapterOptions } from "../../../../src/adapters/telegram/TelegramAdapter.js"
import { recordingContext, type RecordingContext, recordingDelivery, testView } from "../IntakeContextFixture.js"
import { fakeToken, type FakeBotApi, startFakeBotApi } from "./FakeBotApi.js"
import { fromSubmit } from "../IntakeFakes.js"

// ---------------------------------------------------------------------------------------------
// A scripted TurnIntake: each text decides how its turn goes.

interface TurnScript {
  /** Wait for this before recording (Accepted). */
  readonly beforeAccept?: Deferred.Deferred<void>
  /** Wait for this after recording, before the outcome. */
  readonly afterAccept?: Deferred.Deferred<void>
  /** "IntakeClosed": refused before recording (never acknowledged). */
  readonly outcome?: TurnOutcome["_tag"] | "IntakeClosed" | "Busy"
  readonly reply?: string
}

interface FakeIntake {
  readonly intake: TurnIntake
  /** Delivery bookkeeping the adapter is given with the intake. */
  readonly delivery: Layer.Layer<TurnDelivery>
  readonly submitted: Array<InboundMessage>
  readonly accepted: Array<string>
  /** Turn ids resumed, in order. */
  readonly resumed: Array<string>
  /** Turn ids whose answer was reported delivered, in order. */
  readonly delivered: Array<string>
  /** The placeholder message recorded for each turn. */
  readonly replyRefs: Map<string, string>
}

const outcomeEvent = (outcome: TurnOutcome) => TurnEvent.Outcome({ outcome })

const makeIntake = (script: (text: string) => TurnScript = () => ({}), awaitRoom?: Effect.Effect<void>): FakeIntake => {
  const submitted: Array<InboundMessage> = []
  const accepted: Array<string> = []
  const resumed: Array<string> = []
  const delivery = recordingDelivery()
  let turns = 0
  const intake: TurnIntake = fromSubmit({
    active: Effect.sync(() => submitted.length - accepted.length),
    ...(awaitRoom === undefined ? {} : { awaitRoom }),
    resume: (turnId) =>
      Stream.suspend(() => {
        resumed.push(turnId)
        return Stream.make(outcomeEvent({ _tag: "Completed", ids: { turnId, sessionId: "resumed" }, reply: `resumed: ${turnId}` }))
      }),
    submit: (inbound) =>
      Stream.unwrap(Effect.gen(function*() {
        submitted.push(inbound)
        const plan = script(inbound.text)
        const ids: TurnIds = { turnId: `turn-${++turns}`, sessionId: `session-${inbound.sessionKey}` }
        if (plan.beforeAccept) yield* Deferred.await(plan.beforeAccept)
        if (plan.outcome === "IntakeClosed") return Stream.fail(new IntakeClosed({ message: "draining" }))
        if (plan.outcome === "Duplicate") return Stream.make(outcomeEvent({ _tag: "Duplicate", ids }))
        if (plan.outcome === "Busy") return Stream.make(outcomeEvent({ _tag: "Refused", reason: "busy", message: "at the limit" }))
        if (plan.outcome === "Refused") {
          return Stream.make(outcomeEvent({ _tag: "Refused", reason: "session_suspended", message: `session ${ids.sessionId} is suspended (internal detail)` }))
        }
        accepted.push(inbound.text)
        const end = Effect.gen(function*() {
          if (plan.afterAccept) yield* Deferred.await(plan.afterAccept)
          switch (plan.outcome) {
            case "Interrupted":
              return outcomeEvent({ _tag: "Interrupted", ids, reason: "drain deadline" })
            case "Failed":
              return outcomeEvent({ _tag: "Failed", ids, message: "model exploded" })
            default:
              return outcomeEvent({ _tag: "Completed", ids, reply: plan.reply ?? `echo: ${inbound.text}` })
          }
        })
        return Stream.concat(Stream.make(TurnEvent.Accepted({ ids })), Stream.fromEffect(end))
      }))
  })
  return { intake, delivery: delivery.layer, submitted, accepted, resumed, delivered: delivery.delivered, replyRefs: delivery.replyRefs }
}

// ---------------------------------------------------------------------------------------------

const tempLedger = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hermes-telegram-")), "telegram_offset.json")

const optionsFor = (api: FakeBotApi, overrides: Partial<TelegramAdapterOptions> = {}): TelegramAdapterOptions => ({
  token: Redacted.make(fakeToken),
  tokenEnv: "TELEGRAM_BOT_TOKEN",
  apiBaseUrl: api.url,
  pollTimeout: Duration.seconds(2),
  allowedUsers: [],
  ledgerFile: tempLedger(),
  typingInterval: Duration.millis(100),
  backoffBase: Duration.millis(50),
  backoffCap: Duration.millis(400),
  pendingPollInterval: Duration.millis(30),
  ...overrides
})

const build = (options: TelegramAdapterOptions) =>
  makeTelegramAdapter(options).pipe(Effect.provide(FetchHttpClient.layer))

/** Connected with intake open; disconnected when the test's scope closes. */
const startTelegram = (
  api: FakeBotApi,
  fake: FakeIntake,
  overrides: Partial<TelegramAdapterOptions> = {},
  kernel: RecordingContext = recordingContext()
) =>
  Effect.gen(function*() {
    const options = optionsFor(api, overrides)
    const adapter = yield* build(options)
    yield* Effect.acquireRelease(adapter.connect, () => adapter.disconnect).pipe(Effect.orDie)
    yield* adapter.startIntake(fake.intake, kernel.context).pipe(Effect.provide(fake.delivery))
    return { adapter, options, kernel }
  })

const readLedger = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as { acknowledged: number; handled_above: Array<number> }
const acknowledgedIn = (file: string) => (fs.existsSync(file) ? readLedger(file).acknowledged : 0)
const offsets = (api: FakeBotApi) => api.calls.filter((c) => c.method === "getUpdates").map((c) => Number(c.params.offset))
const quiet = Logger.withMinimumLogLevel(LogLevel.None)
/** The platform health the kernel follows (adapter.health is a stream of it), read at this instant. */
const healthNow = (adapter: { readonly status: Effect.Effect<{ readonly state: string; readonly error: string | null }> }) => {
  const { error, state } = Effect.runSync(adapter.status)
  return { state, error }
}

describe("TelegramAdapter", () => {
  it.scopedLive("a text message is submitted and the reply sent back, with typing while it runs", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const release = yield* Deferred.make<void>()
      const fake = makeIntake(() => ({ afterAccept: release }))
      yield* startTelegram(api, fake)
      const id = api.push({ chatId: 555, text: "hello", username: "alice" })
      yield* api.until(() => fake.submitted.length === 1)
      expect(fake.submitted[0]).toEqual({
        platform: "telegram",
        sessionKey: "555",
        text: "hello",
        history: [],
        user: "alice",
        externalId: String(id)
      })
      yield* api.until(() => api.calls.filter((c) => c.method === "sendChatAction").length >= 2)
      expect(api.calls.find((c) => c.method === "sendChatAction")?.params).toEqual({ chat_id: 555, action: "typing" })
      yield* Deferred.succeed(release, undefined)
      yield* api.until(() => api.answers().length === 1)
      expect(api.answers()[0]).toEqual({ chatId: 555, text: "echo: hello" })
      // Typing stops with the turn.
      const typed = api.calls.filter((c) => c.method === "sendChatAction").length
      yield* Effect.sleep(300)
      expect(api.calls.filter((c) => c.method === "sendChatAction").length).toBe(typed)
      // getUpdates asks for messages only, with the configured long-poll timeout.
      const poll = api.calls.find((c) => c.method === "getUpdates")!
      expect(poll.params.timeout).toBe(2)
      expect(poll.params.allowed_updates).toEqual(["message"])
    }).pipe(quiet))

  it.scopedLive("a user id without a username is named by id", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake()
      yield* startTelegram(api, fake)
      api.push({ chatId: 9, userId: 31337, text: "hi" })
      yield* api.until(() => api.answers().length === 1)
      expect(fake.submitted[0]?.user).toBe("31337")
    }).pipe(quiet))

  it.scopedLive("a long reply is split under 4096 characters at paragraph boundaries", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const paragraph = "word ".repeat(300).trim() // 1499 chars
      const reply = [paragraph, paragraph, paragraph, paragraph, paragraph].join("\n\n")
      const fake = makeIntake(() => ({ reply }))
      yield* startTelegram(api, fake)
      api.push({ chatId: 1, text: "long please" })
      yield* api.until(() => api.answers().length >= 3)
      yield* Effect.sleep(100)
      expect(api.answers().length).toBe(3)
      for (const part of api.answers()) expect(part.text.length).toBeLessThanOrEqual(4096)
      expect(api.answers().map((part) => part.text).join("\n\n")).toBe(reply)
    }).pipe(quiet))

  it.scopedLive("a user not in allowed_users is refused politely and never submitted", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake()
      const { options } = yield* startTelegram(api, fake, { allowedUsers: [1001, "bob"] })
      const stranger = api.push({ chatId: 66, userId: 66, username: "mallory", text: "let me in" })
      yield* api.until(() => api.answers().length === 1)
      expect(api.answers()[0]).toEqual({ chatId: 66, text: privateBotReply })
      expect(fake.submitted).toEqual([])
      // Refused updates are handled: acknowledged, never seen again.
      yield* api.until(() => readLedger(options.ledgerFile).acknowledged === stranger)
      api.push({ chatId: 1001, userId: 1001, text: "by id" })
      api.push({ chatId: 7, userId: 7, username: "Bob", text: "by name" })
      yield* api.until(() => fake.submitted.length === 2 && api.answers().length === 3)
      expect(fake.submitted.map((m) => m.text)).toEqual(["by id", "by name"])
    }).pipe(quiet))

  it.scopedLive("the offset passes an update only after onAccepted", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const record = yield* Deferred.make<void>()
      const fake = makeIntake(() => ({ beforeAccept: record }))
      const { options } = yield* startTelegram(api, fake)
      const id = api.push({ chatId: 5, text: "keep me" })
      yield* api.until(() => fake.submitted.length === 1)
      // Not yet recorded: Telegram keeps being asked from this update on, and nothing is on disk.
      yield* Effect.sleep(200)
      expect(Math.max(...offsets(api))).toBeLessThanOrEqual(id)
      expect(api.held()).toContain(id)
      expect(acknowledgedIn(options.ledgerFile)).toBeLessThan(id)
      expect(fake.submitted.length).toBe(1)
      yield* Deferred.succeed(record, undefined)
      yield* api.until(() => offsets(api).includes(id + 1))
      expect(readLedger(options.ledgerFile).acknowledged).toBe(id)
      expect(api.held()).not.toContain(id)
      expect(fake.submitted.length).toBe(1)
    }).pipe(quiet))

  it.scopedLive("a chat's messages run one at a time, in order; other chats run meanwhile", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const first = yield* Deferred.make<void>()
      const fake = makeIntake((text) => (text === "a1" ? { afterAccept: first } : {}))
      yield* startTelegram(api, fake)
      api.push({ chatId: 1, text: "a1" })
      api.push({ chatId: 1, text: "a2" })
      api.push({ chatId: 2, text: "b1" })
      yield* api.until(() => api.answers().some((m) => m.text === "echo: b1"))
      expect(fake.submitted.map((m) => m.text)).toEqual(["a1", "b1"])
      yield* Deferred.succeed(first, undefined)
      yield* api.until(() => api.answers().length === 3)
      expect(api.answers().filter((m) => m.chatId === 1).map((m) => m.text)).toEqual(["echo: a1", "echo: a2"])
    }).pipe(quiet))

  it.scopedLive("after a restart, acknowledged updates are never resubmitted and unacknowledged ones are", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      // As if every confirming getUpdates was lost: Telegram redelivers everything to the next life.
      api.setConfirming(false)
      const ledgerFile = tempLedger()
      const never = yield* Deferred.make<void>()
      const first = makeIntake((text) => (text === "b" ? { beforeAccept: never } : {}))
      const life1 = yield* build(optionsFor(api, { ledgerFile }))
      yield* Effect.orDie(life1.connect)
      yield* life1.startIntake(first.intake, recordingContext().context).pipe(Effect.provide(first.delivery))
      const a = api.push({ chatId: 1, text: "a" })
      const b = api.push({ chatId: 2, text: "b" })
      const c = api.push({ chatId: 3, text: "c" })
      yield* api.until(() => first.accepted.length === 2 && first.submitted.length === 3)
      yield* api.until(() => readLedger(ledgerFile).handled_above.includes(c))
      expect(readLedger(ledgerFile)).toEqual({ acknowledged: a, handled_above: [c] })
      yield* life1.stopIntake
      yield* life1.disconnect

      const second = makeIntake()
      yield* startTelegram(api, second, { ledgerFile })
      yield* api.until(() => second.submitted.length === 1)
      yield* Effect.sleep(300)
      expect(second.submitted.map((m) => m.text)).toEqual(["b"])
      yield* api.until(() => readLedger(ledgerFile).acknowledged === c)
      expect(readLedger(ledgerFile).handled_above).toEqual([])
      expect(b).toBe(a + 1)
    }).pipe(quiet))

  it.scopedLive("a message refused by a draining intake stays unacknowledged for the next life", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake(() => ({ outcome: "IntakeClosed" }))
      const { options } = yield* startTelegram(api, fake)
      const id = api.push({ chatId: 3, text: "later" })
      yield* api.until(() => fake.submitted.length === 1)
      yield* Effect.sleep(200)
      expect(api.held()).toContain(id)
      expect(acknowledgedIn(options.ledgerFile)).toBeLessThan(id)
      expect(api.answers()).toEqual([])
    }).pipe(quiet))

  it.scopedLive("a message refused as busy stays unacknowledged and unanswered until a turn ends, then goes in again", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const room = yield* Deferred.make<void>()
      let busy = true
      let refusals = 0
      // Room while nothing was refused yet (the update is taken); after the refusal, none until a turn ends.
      const awaitRoom = Effect.suspend(() => (refusals === 0 ? Effect.void : Deferred.await(room)))
      const fake = makeIntake(() => {
        if (!busy) return {}
        refusals += 1
        return { outcome: "Busy" }
      }, awaitRoom)
      const { options } = yield* startTelegram(api, fake)
      const id = api.push({ chatId: 8, text: "wait for me" })
      yield* api.until(() => fake.submitted.length === 1)
      yield* Effect.sleep(200)
      // Neither acknowledged, answered, nor submitted again while there is no room.
      expect(api.held()).toContain(id)
      expect(acknowledgedIn(options.ledgerFile)).toBeLessThan(id)
      expect(api.answers()).toEqual([])
      expect(fake.submitted.length).toBe(1)
      busy = false
      yield* Deferred.succeed(room, undefined)
      yield* api.until(() => acknowledgedIn(options.ledgerFile) === id && api.answers().some((a) => a.text === "echo: wait for me"))
      expect(fake.submitted.map((m) => m.text)).toEqual(["wait for me", "wait for me"])
    }).pipe(quiet))

  it.scopedLive("a failed turn tells the user and counts as delivered; an interrupted one waits for the next life", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake((text) => ({ outcome: text === "x" ? "Interrupted" : "Failed" }))
      const { options } = yield* startTelegram(api, fake)
      const x = api.push({ chatId: 1, text: "x" })
      api.push({ chatId: 2, text: "y" })
      yield* api.until(() => api.answers().length === 1 && fake.delivered.length === 1)
      expect(api.answers()[0]).toEqual({ chatId: 2, text: failedReply("model exploded") })
      // Interrupted: recorded (acknowledged), nothing said now; shutdown step 3 told the chat.
      yield* api.until(() => acknowledgedIn(options.ledgerFile) >= x)
      yield* Effect.sleep(100)
      expect(api.answers().filter((m) => m.chatId === 1)).toEqual([])
      expect(fake.delivered).toEqual(["turn-2"])
    }).pipe(quiet))

  it.scopedLive("an answer is reported delivered only once Telegram took it, or refused it for good", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake()
      yield* startTelegram(api, fake, { sendAttempts: 2 })
      api.push({ chatId: 1, text: "ok" })
      yield* api.until(() => fake.delivered.length === 1)
      // Blocked by the user: 403 is final, so the answer is settled and never retried.
      api.block(2)
      api.push({ chatId: 2, text: "blocked" })
      yield* api.until(() => fake.delivered.length === 2)
      // 5xx until the attempts run out (the placeholder's one try, then two for the answer): not
      // delivered, so the next life sends it.
      api.failNext("sendMessage", { status: 502 }, 3)
      api.push({ chatId: 3, text: "unlucky" })
      yield* api.until(() => api.calls.filter((c) => c.method === "sendMessage" && c.params.chat_id === 3).length === 3)
      yield* Effect.sleep(150)
      expect(fake.delivered).toEqual(["turn-1", "turn-2"])
    }).pipe(quiet))

  it.scopedLive("a refused message (suspended conversation) is acknowledged, and the user told without internals", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake(() => ({ outcome: "Refused" }))
      const { options } = yield* startTelegram(api, fake)
      const id = api.push({ chatId: 4, text: "hello?" })
      yield* api.until(() => api.answers().length === 1 && acknowledgedIn(options.ledgerFile) === id)
      expect(api.answers()[0]!.text).toBe(refusedReply("session_suspended"))
      expect(api.answers()[0]!.text).not.toContain("internal")
      expect(fake.delivered).toEqual([])
    }).pipe(quiet))

  it.scopedLive("a message an earlier life recorded (Duplicate) is acknowledged and not answered again", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake(() => ({ outcome: "Duplicate" }))
      const { options } = yield* startTelegram(api, fake)
      const id = api.push({ chatId: 8, text: "seen before" })
      yield* api.until(() => acknowledgedIn(options.ledgerFile) === id)
      yield* Effect.sleep(100)
      expect(fake.submitted.map((m) => m.externalId)).toEqual([String(id)])
      expect(api.answers()).toEqual([])
      expect(fake.delivered).toEqual([])
    }).pipe(quiet))

  it.scopedLive("notifyInFlight tells only chats with a turn running", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const hold = yield* Deferred.make<void>()
      const fake = makeIntake((text) => (text === "slow" ? { afterAccept: hold } : {}))
      const { adapter } = yield* startTelegram(api, fake)
      api.push({ chatId: 1, text: "slow" })
      api.push({ chatId: 2, text: "fast" })
      yield* api.until(() => api.answers().length === 1 && fake.submitted.length === 2)
      yield* adapter.stopIntake
      yield* adapter.notifyInFlight("restarting")
      expect(api.answers().filter((m) => m.chatId === 1).map((m) => m.text)).toEqual([stopNotice("restarting")])
      expect(api.answers().filter((m) => m.chatId === 2).map((m) => m.text)).toEqual(["echo: fast"])
      yield* Deferred.succeed(hold, undefined)
      yield* api.until(() => api.answers().length === 3)
    }).pipe(quiet))
})

describe("TelegramAdapter errors", () => {
  it.scopedLive("a rejected token fails connect with exit 78 naming the variable", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const adapter = yield* build(optionsFor(api, { token: Redacted.make("999:wrong"), tokenEnv: "MY_BOT_TOKEN" }))
      const error = yield* Effect.flip(adapter.connect)
      expect(error._tag).toBe("AdapterConnectError")
      expect(error.exitCode).toBe(78)
      expect(error.adapter).toBe("telegram")
      expect(error.message).toContain("the bot token in $MY_BOT_TOKEN was rejected")
      expect(error.message).not.toContain("999:wrong")
    }).pipe(quiet))

  it.scopedLive("a Bot API unreachable at start-up does not fail connect: the adapter retries, then polls", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      api.failNext("getMe", { status: 502, description: "Bad Gateway" }, 3)
      const fake = makeIntake()
      const { adapter } = yield* startTelegram(api, fake, { backoffBase: Duration.millis(50), backoffCap: Duration.millis(100) })
      expect(healthNow(adapter)).toEqual({ state: "retrying", error: expect.stringContaining("502") })
      yield* api.until(() => healthNow(adapter).state === "polling", 5000)
      expect(api.calls.filter((c) => c.method === "getMe").length).toBe(4)
      expect(api.calls.some((c) => c.method === "deleteWebhook")).toBe(true)
      api.push({ chatId: 1, text: "made it" })
      yield* api.until(() => api.answers().length === 1)
      expect((yield* adapter.status).bot).toBe("hermes_test_bot")
    }).pipe(quiet))

  it.scopedLive("a token rejected once the Bot API is reachable again leaves the adapter failed, not polling", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      api.failNext("getMe", { status: 503 }, 1)
      api.failNext("getMe", { status: 401, description: "Unauthorized" }, 1)
      const { adapter } = yield* startTelegram(api, makeIntake(), { backoffBase: Duration.millis(50), tokenEnv: "MY_BOT_TOKEN" })
      yield* api.until(() => healthNow(adapter).state === "failed", 5000)
      expect(healthNow(adapter).error).toContain("$MY_BOT_TOKEN was rejected")
      yield* Effect.sleep(200)
      expect(api.calls.filter((c) => c.method === "getUpdates")).toEqual([])
    }).pipe(quiet))

  it.scopedLive("a token revoked while polling leaves the adapter failed instead of retrying for ever", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const { adapter } = yield* startTelegram(api, makeIntake())
      yield* api.until(() => api.waiting() === 1)
      api.failNext("getUpdates", { status: 401, description: "Unauthorized" })
      api.push({ chatId: 1, text: "wake the poll" })
      yield* api.until(() => healthNow(adapter).state === "failed", 5000)
      const polls = api.calls.filter((c) => c.method === "getUpdates").length
      yield* Effect.sleep(300)
      expect(api.calls.filter((c) => c.method === "getUpdates").length).toBe(polls)
    }).pipe(quiet))

  it.scopedLive("a Bot API address that refuses connections is retried the same way", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const adapter = yield* build(optionsFor(api, { apiBaseUrl: "http://127.0.0.1:1" }))
      const info = yield* adapter.connect
      expect(info).toMatchObject({ bot: null, state: "retrying" })
      expect(String(info.error)).not.toContain(fakeToken)
      expect((yield* adapter.status).state).toBe("retrying")
    }).pipe(quiet))

  it.scopedLive("a 429 waits retry_after seconds before the next getUpdates", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      api.failNext("getUpdates", { status: 429, description: "Too Many Requests: retry after 1", retryAfter: 1 })
      const fake = makeIntake()
      yield* startTelegram(api, fake)
      yield* api.until(() => api.calls.filter((c) => c.method === "getUpdates").length >= 2)
      const [limited, next] = api.calls.filter((c) => c.method === "getUpdates")
      expect(next!.at - limited!.at).toBeGreaterThanOrEqual(950)
      api.push({ chatId: 1, text: "after the limit" })
      yield* api.until(() => api.answers().length === 1)
    }).pipe(quiet))

  it.scopedLive("5xx answers back off with state retrying, then recover to polling", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      api.failNext("getUpdates", { status: 502, description: "Bad Gateway" }, 3)
      const fake = makeIntake()
      const { adapter } = yield* startTelegram(api, fake, { backoffBase: Duration.millis(200), backoffCap: Duration.seconds(1) })
      let seen: string | null = null
      yield* api.until(() => {
        Effect.runSync(Effect.map(adapter.status, (s) => {
          if (s.state === "retrying") seen = s.error
        }))
        return seen !== null
      })
      expect(seen).toContain("502")
      yield* api.until(() => Effect.runSync(adapter.status).state === "polling", 5000)
      const status = yield* adapter.status
      expect(status.error).toBeNull()
      const polls = api.calls.filter((c) => c.method === "getUpdates")
      expect(polls.length).toBeGreaterThanOrEqual(4)
      // Backing off: no hammering (three failures, at least ~50% of 200/400/800ms apart).
      expect(polls[3]!.at - polls[0]!.at).toBeGreaterThanOrEqual(650)
      api.push({ chatId: 4, text: "back" })
      yield* api.until(() => api.answers().length === 1)
    }).pipe(quiet))

  it.scopedLive("stopIntake returns promptly during a long poll and aborts the request", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake()
      const { adapter } = yield* startTelegram(api, fake, { pollTimeout: Duration.seconds(30) })
      yield* api.until(() => api.waiting() === 1)
      const started = Date.now()
      yield* adapter.stopIntake
      expect(Date.now() - started).toBeLessThan(1000)
      yield* api.until(() => api.waiting() === 0, 2000)
      expect((yield* adapter.status).state).toBe("stopped")
      // Nothing arriving afterwards is taken.
      api.push({ chatId: 1, text: "too late" })
      yield* Effect.sleep(200)
      expect(fake.submitted).toEqual([])
      const exit = yield* Effect.exit(adapter.disconnect.pipe(Effect.timeout(2000)))
      expect(Exit.isSuccess(exit)).toBe(true)
    }).pipe(quiet))
})

describe("TelegramAdapter after a restart", () => {
  const ids = (turnId: string): TurnIds => ({ turnId, sessionId: "s" })

  it.scopedLive("carried-over turns come before the chat's new messages: resumed with a notice, or their answer sent", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake()
      const carryover: ReadonlyArray<Carryover> = [
        { _tag: "Resume", ids: ids("t-resume"), chatKey: "1", inbound: "what is 2+2?", startedAt: "2026-01-01T00:00:00Z", replyRef: null },
        { _tag: "Deliver", ids: ids("t-done"), chatKey: "2", inbound: "hi", outcome: "completed", text: "a reply from before", replyRef: null },
        { _tag: "Deliver", ids: ids("t-failed"), chatKey: "3", inbound: "boom", outcome: "failed", text: "it crashed the gateway 3 times", replyRef: null },
        { _tag: "Deliver", ids: ids("t-old"), chatKey: "4", inbound: "too old", outcome: "interrupted", text: "down too long", replyRef: null },
        { _tag: "Resume", ids: ids("t-bad"), chatKey: "not-a-chat", inbound: "?", startedAt: "2026-01-01T00:00:00Z", replyRef: null }
      ]
      // A new message in chat 1 is already waiting when the gateway comes back.
      api.push({ chatId: 1, text: "and another thing" })
      yield* startTelegram(api, fake, {}, recordingContext({ carryover }))
      yield* api.until(() => fake.delivered.length === 5)
      expect(api.answers().filter((m) => m.chatId === 1).map((m) => m.text)).toEqual([
        resumeNotice("what is 2+2?"),
        "resumed: t-resume",
        "echo: and another thing"
      ])
      expect(fake.resumed).toEqual(["t-resume"])
      expect(api.answers().filter((m) => m.chatId === 2).map((m) => m.text)).toEqual(["a reply from before"])
      expect(api.answers().filter((m) => m.chatId === 3).map((m) => m.text)).toEqual([failedReply("it crashed the gateway 3 times")])
      expect(api.answers().filter((m) => m.chatId === 4).map((m) => m.text)).toEqual([notAnsweredReply("too old", "down too long")])
      expect([...fake.delivered].sort()).toEqual(["t-done", "t-failed", "t-old", "t-resume", "turn-1"])
    }).pipe(quiet))
})

describe("TelegramAdapter chat commands", () => {
  it.scopedLive("/status answers from the gateway's view, beside a running turn, without a turn of its own", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const hold = yield* Deferred.make<void>()
      const fake = makeIntake(() => ({ afterAccept: hold }))
      const { options } = yield* startTelegram(api, fake)
      api.push({ chatId: 5, text: "a long question" })
      yield* api.until(() => fake.accepted.length === 1)
      const id = api.push({ chatId: 5, text: "/status" })
      yield* api.until(() => api.answers().length === 1)
      expect(api.answers()[0]!.text).toContain(`pid ${testView.pid}`)
      expect(api.answers()[0]!.text).toContain("Hermes gateway: running")
      expect(fake.submitted.map((m) => m.text)).toEqual(["a long question"])
      yield* api.until(() => readLedger(options.ledgerFile).acknowledged === id)
      yield* Deferred.succeed(hold, undefined)
    }).pipe(quiet))

  it.scopedLive("a command for another bot, or one we do not know, is an ordinary message", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const fake = makeIntake()
      yield* startTelegram(api, fake)
      api.push({ chatId: 5, text: "/status@some_other_bot" })
      api.push({ chatId: 5, text: "/start" })
      yield* api.until(() => api.answers().length === 2)
      expect(fake.submitted.map((m) => m.text)).toEqual(["/status@some_other_bot", "/start"])
    }).pipe(quiet))

  it.scopedLive("/restart from a listed user asks the kernel to restart, and the next life says it is back", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const ledgerFile = tempLedger()
      const kernel = recordingContext()
      yield* startTelegram(api, makeIntake(), { ledgerFile, allowedUsers: [77] }, kernel)
      const id = api.push({ chatId: 70, userId: 77, username: "ops", text: "/restart@hermes_test_bot" })
      yield* api.until(() => kernel.restarts.length === 1)
      expect(kernel.restarts).toEqual(["telegram /restart by @ops"])
      expect(api.answers()).toEqual([{ chatId: 70, text: restartingReply }])
      // Handled before the restart, so the next life never sees it again.
      expect(readLedger(ledgerFile).acknowledged).toBe(id)
      expect(readLedger(ledgerFile)).toMatchObject({ restart_notice: { chat_id: 70 } })

      const next = makeIntake()
      yield* startTelegram(api, next, { ledgerFile, allowedUsers: [77] }, recordingContext({ view: { pid: 9001 } }))
      yield* api.until(() => api.answers().length === 2)
      expect(api.answers()[1]).toEqual({ chatId: 70, text: restartedNotice(9001) })
      expect(readLedger(ledgerFile)).not.toHaveProperty("restart_notice")
      expect(next.submitted).toEqual([])
    }).pipe(quiet))

  it.scopedLive("/restart is refused when allowed_users does not name the sender, even if everyone may chat", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const kernel = recordingContext()
      const fake = makeIntake()
      yield* startTelegram(api, fake, { allowedUsers: [] }, kernel)
      api.push({ chatId: 3, userId: 3, text: "/restart" })
      yield* api.until(() => api.answers().length === 1)
      expect(api.answers()[0]).toEqual({ chatId: 3, text: restartNotAllowedReply })
      expect(kernel.restarts).toEqual([])
      expect(fake.submitted).toEqual([])
    }).pipe(quiet))
})

describe("TelegramAdapter connect and health", () => {
  it.scopedLive("connect removes a webhook (keeping pending updates); health follows the poll loop", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      api.failNext("getUpdates", { status: 409, description: "Conflict: terminated by other getUpdates request" }, 2)
      const { adapter } = yield* startTelegram(api, makeIntake(), { backoffBase: Duration.millis(150) })
      expect(api.calls.find((c) => c.method === "deleteWebhook")?.params).toEqual({ drop_pending_updates: false })
      let seen: string | null = null
      yield* api.until(() => {
        const health = healthNow(adapter)
        if (health.state === "retrying") seen = health.error
        return seen !== null
      })
      expect(seen).toContain("409")
      yield* api.until(() => healthNow(adapter).state === "polling", 5000)
      expect(healthNow(adapter)).toEqual({ state: "polling", error: null })
    }).pipe(quiet))
})

describe("TelegramAdapter placeholders (exactly-once answers)", () => {
  const ids = (turnId: string): TurnIds => ({ turnId, sessionId: "s" })
  /** The end of an earlier life: nothing of it polls or sends any more. */
  const endLife = (adapter: { readonly stopIntake: Effect.Effect<void>; readonly disconnect: Effect.Effect<void> }) =>
    Effect.zipRight(adapter.stopIntake, adapter.disconnect)

  it.scopedLive("the answer is edited into a placeholder whose message id was recorded with the turn first", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const hold = yield* Deferred.make<void>()
      const fake = makeIntake(() => ({ afterAccept: hold }))
      yield* startTelegram(api, fake)
      api.push({ chatId: 5, text: "question" })
      yield* api.until(() => fake.replyRefs.size === 1)
      expect(api.sent).toEqual([{ chatId: 5, text: "…" }])
      yield* Deferred.succeed(hold, undefined)
      yield* api.until(() => fake.delivered.length === 1)
      expect(api.sent).toEqual([{ chatId: 5, text: "echo: question" }])
      expect(api.edits).toEqual([{ chatId: 5, messageId: Number(fake.replyRefs.get("turn-1")), text: "echo: question" }])
    }).pipe(quiet))

  it.scopedLive("without a placeholder (the Bot API refused it) the answer is sent as a new message", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      api.failNext("sendMessage", { status: 500 })
      const fake = makeIntake()
      yield* startTelegram(api, fake)
      api.push({ chatId: 5, text: "question" })
      yield* api.until(() => fake.delivered.length === 1)
      expect(fake.replyRefs.size).toBe(0)
      expect(api.sent).toEqual([{ chatId: 5, text: "echo: question" }])
      expect(api.edits).toEqual([])
    }).pipe(quiet))

  it.scopedLive("a later life delivering into the same placeholder never adds a message; a vanished one gets a new message", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      // Two placeholders from an earlier life: one still "…", one already edited before the crash.
      const first = makeIntake((text) => (text === "b" ? { reply: "answer b" } : { outcome: "Interrupted" }))
      const ledgerFile = tempLedger()
      const life1 = yield* startTelegram(api, first, { ledgerFile })
      api.push({ chatId: 1, text: "a" })
      api.push({ chatId: 2, text: "b" })
      yield* api.until(() => first.replyRefs.size === 2 && first.delivered.length === 1)
      const refA = first.replyRefs.get(first.accepted[0] === "a" ? "turn-1" : "turn-2")!
      const refB = first.replyRefs.get(first.accepted[0] === "a" ? "turn-2" : "turn-1")!
      yield* endLife(life1.adapter)
      const before = api.sent.length
      const carryover: ReadonlyArray<Carryover> = [
        { _tag: "Deliver", ids: ids("t-a"), chatKey: "1", inbound: "a", outcome: "completed", text: "answer a", replyRef: refA },
        { _tag: "Deliver", ids: ids("t-b"), chatKey: "2", inbound: "b", outcome: "completed", text: "answer b", replyRef: refB },
        { _tag: "Deliver", ids: ids("t-c"), chatKey: "3", inbound: "c", outcome: "completed", text: "answer c", replyRef: "999999" }
      ]
      const second = makeIntake()
      yield* startTelegram(api, second, { ledgerFile }, recordingContext({ carryover }))
      yield* api.until(() => second.delivered.length === 3)
      expect(api.sent.length).toBe(before + 1)
      expect(api.sent.filter((m) => m.chatId === 1).map((m) => m.text)).toEqual(["answer a"])
      // Already there: Telegram answers "message is not modified", which counts as delivered.
      expect(api.sent.filter((m) => m.chatId === 2).map((m) => m.text)).toEqual(["answer b"])
      expect(api.sent.filter((m) => m.chatId === 3).map((m) => m.text)).toEqual(["answer c"])
    }).pipe(quiet))

  it.scopedLive("a resumed turn answers into the placeholder its first life prepared", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const first = makeIntake(() => ({ outcome: "Interrupted" }))
      const ledgerFile = tempLedger()
      const life1 = yield* startTelegram(api, first, { ledgerFile })
      const id = api.push({ chatId: 9, text: "long task" })
      yield* api.until(() => first.replyRefs.size === 1 && acknowledgedIn(ledgerFile) === id)
      yield* endLife(life1.adapter)
      const ref = first.replyRefs.get("turn-1")!
      const second = makeIntake()
      const carryover: ReadonlyArray<Carryover> = [
        { _tag: "Resume", ids: ids("t-long"), chatKey: "9", inbound: "long task", startedAt: "2026-01-01T00:00:00Z", replyRef: ref }
      ]
      yield* startTelegram(api, second, { ledgerFile }, recordingContext({ carryover }))
      yield* api.until(() => second.delivered.length === 1)
      expect(api.sent.map((m) => m.text)).toEqual(["resumed: t-long", resumeNotice("long task")])
      expect(second.replyRefs.size).toBe(0)
    }).pipe(quiet))
})
