// The Telegram adapter end to end: the built gateway long-polls a fake Bot API and asks a fake
// OpenAI-compatible model (both real HTTP servers on 127.0.0.1), so everything between an update
// and the reply in the chat is the real thing: polling with offsets, the update ledger, the
// SessionDB, the openai agent's SSE parsing, the chat commands, stop notices, resuming after a
// restart, and exactly-once delivery across SIGKILL.
//
// Replies are recognised by their current text: the fake model answers `answer: <last user message>`;
// anything else the gateway sends (refusals, stop/resume/restart notices) is a notice. A turn first
// gets a placeholder message ("…"), which the answer then replaces with editMessageText; the fake
// keeps every sent message in its current state, so a chat's replies are the texts the user sees
// now, in the order the messages were first sent. When the order of two texts matters, compare the
// times they were set (`textSetAt`: the last edit, else the sending), not the send order.
import { beforeAll, describe, it, type TestContext } from "vitest"
import { FakeModel, type FakeModelOptions } from "./fakes/FakeModel.js"
import { FakeTelegram, type SentMessage, textSetAt } from "./fakes/FakeTelegram.js"
import {
  assertBuilt,
  type Gateway,
  type Home,
  Sandbox,
  sleep,
  telegramConfig,
  type TelegramConfigOptions,
  telegramEnv
} from "./harness.js"

beforeAll(assertBuilt)

const randomInt = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min + 1))

const answerTo = (text: string) => `answer: ${text}`
const isAnswer = (text: string) => text.startsWith("answer: ")
/** What the gateway sends as soon as a turn is recorded, edited into the answer later. */
const placeholder = "\u2026"
const isPlaceholder = (text: string) => text === placeholder

interface Setup {
  readonly tg: FakeTelegram
  readonly model: FakeModel
  readonly sb: Sandbox
  readonly home: Home
  /** Starts `hermes gateway run` on the home with the fake's token in TELEGRAM_BOT_TOKEN. */
  readonly start: (label?: string) => Gateway
}

/** Both fakes, a sandbox and a home configured for them; the fakes' state is printed on failure. */
const setup = async (
  ctx: TestContext,
  config: Omit<TelegramConfigOptions, "botApi" | "model"> = {},
  modelOptions: FakeModelOptions = {}
): Promise<Setup> => {
  const sb = new Sandbox(ctx)
  const tg = await FakeTelegram.start(ctx)
  const model = await FakeModel.start(ctx, modelOptions)
  ctx.onTestFailed(() => {
    process.stderr.write(`\n[${ctx.task.name}]\n${tg.summary()}\n${model.summary()}\n`)
  })
  const home = sb.home(telegramConfig({ botApi: tg, model, ...config }))
  return { tg, model, sb, home, start: (label = "gateway") => sb.run(home, telegramEnv(tg.token), label) }
}

/** Waits for the reply `answer: <text>` in the chat. */
const waitAnswer = (tg: FakeTelegram, chatId: number, text: string, timeoutMs = 30_000) =>
  tg.waitFor(() => tg.repliesTo(chatId).includes(answerTo(text)), timeoutMs, `${JSON.stringify(answerTo(text))} in chat ${chatId}`)

const waitReply = (tg: FakeTelegram, chatId: number, pattern: RegExp, timeoutMs = 30_000) =>
  tg.waitFor(() => tg.repliesTo(chatId).some((t) => pattern.test(t)), timeoutMs, `a reply matching ${pattern} in chat ${chatId}`)

const telegramOf = (state: Record<string, any>): { state?: string; error?: string | null } | undefined => state.platforms?.telegram

describe.concurrent("telegram: messages, refusals, tokens", () => {
  it("a message in, the model's answer out; typing is shown; the transcript is the context", async (ctx) => {
    const { expect } = ctx
    const { tg, model, start } = await setup(ctx, { allowedUsers: [111, "alice"] })
    // The answer to "hello" waits until the chat shows typing: typing goes out while the model works.
    model.hold("hello")
    const gw = start()
    await gw.waitRunning()

    tg.push({ chatId: 111, text: "hello" })
    await model.waitForRequest("hello", 30_000)
    await tg.waitFor(() => tg.actionsIn(111).some((a) => a.action === "typing"), 30_000, "typing in chat 111 while the model works")
    model.release("hello")
    await waitAnswer(tg, 111, "hello")
    expect(tg.repliesTo(111)).toEqual([answerTo("hello")])
    expect(tg.actionsIn(111).map((a) => a.action), "typing is shown while the model answers").toContain("typing")
    const first = model.requestsFor("hello")
    expect(first).toHaveLength(1)
    expect(first[0]).toMatchObject({ model: "fake-model", stream: true })
    expect(first[0]!.messages.at(-1)).toEqual({ role: "user", content: "hello" })

    // The same chat's second message carries the first exchange: the transcript is the context.
    tg.push({ chatId: 111, text: "and what else?" })
    await waitAnswer(tg, 111, "and what else?")
    const second = model.requestsFor("and what else?")
    expect(second).toHaveLength(1)
    expect(second[0]!.messages.filter((m) => m.role !== "system")).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: answerTo("hello") },
      { role: "user", content: "and what else?" }
    ])

    // Allowed by username; another chat has its own transcript.
    tg.push({ chatId: 444, userId: 444, username: "alice", text: "hi from alice" })
    await waitAnswer(tg, 444, "hi from alice")
    expect(model.requestsFor("hi from alice")[0]!.messages.filter((m) => m.role !== "system")).toEqual([
      { role: "user", content: "hi from alice" }
    ])
    expect(tg.repliesTo(111)).toEqual([answerTo("hello"), answerTo("and what else?")])

    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
  })

  it("a user not in allowed_users gets a polite refusal and the model never sees the message", async (ctx) => {
    const { expect } = ctx
    const { tg, model, start } = await setup(ctx, { allowedUsers: [111, "alice"] })
    const gw = start()
    await gw.waitRunning()

    tg.push({ chatId: 222, userId: 222, username: "mallory", text: "let me in" })
    await waitReply(tg, 222, /private/)
    // An allowed user's message after it is answered, so the stranger's had every chance to leak.
    tg.push({ chatId: 111, text: "am I in?" })
    await waitAnswer(tg, 111, "am I in?")
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })

    expect(tg.repliesTo(222)).toHaveLength(1)
    expect(tg.repliesTo(222)[0]).toMatch(/private/)
    expect(tg.repliesTo(222).some(isAnswer)).toBe(false)
    expect(model.requestsFor("let me in"), "the model never sees a stranger's message").toEqual([])
    expect(model.requests.some((r) => r.messages.some((m) => m.content.includes("let me in")))).toBe(false)
  })

  it("connect deletes any webhook before the first getUpdates", async (ctx) => {
    const { expect } = ctx
    const { tg, start } = await setup(ctx, { allowedUsers: [111] })
    const gw = start()
    await gw.waitRunning()
    await tg.waitFor(() => tg.callsOf("getUpdates").length > 0, 30_000, "the first getUpdates")
    const methods = tg.calls.map((c) => c.method)
    expect(methods).toContain("deleteWebhook")
    expect(methods.indexOf("deleteWebhook")).toBeLessThan(methods.indexOf("getUpdates"))
    expect(methods.indexOf("getMe")).toBeLessThan(methods.indexOf("getUpdates"))
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
  })

  it("a token the Bot API rejects (401 on getMe) exits 78 naming TELEGRAM_BOT_TOKEN, never showing the token", async (ctx) => {
    const { expect } = ctx
    const { tg, sb, home } = await setup(ctx, { allowedUsers: [111] })
    const wrong = "987654:WRONG-e2e-token"
    const gw = sb.run(home, telegramEnv(wrong))
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
    expect(gw.stderr).toContain("TELEGRAM_BOT_TOKEN")
    expect(gw.stderr + gw.stdout).not.toContain(wrong)
    expect(tg.callsOf("getMe").length).toBeGreaterThan(0)
    expect(tg.callsOf("getMe").every((c) => !c.tokenOk && c.status === 401)).toBe(true)
    expect(tg.callsOf("getUpdates")).toEqual([])
  })

  it("a missing TELEGRAM_BOT_TOKEN exits 78 naming it, before any Bot API call", async (ctx) => {
    const { expect } = ctx
    const { tg, sb, home } = await setup(ctx, { allowedUsers: [111] })
    const gw = sb.run(home, { TELEGRAM_BOT_TOKEN: undefined })
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 78, signal: null })
    expect(gw.stderr).toContain("TELEGRAM_BOT_TOKEN")
    expect(tg.calls).toEqual([])
  })
})

describe.concurrent("telegram: Bot API trouble", () => {
  it("502s turn the platform 'retrying' with the error, then 'polling' again; a 429's retry_after is honoured", async (ctx) => {
    const { expect } = ctx
    const { tg, start } = await setup(ctx, { allowedUsers: [111] })
    const gw = start()
    await gw.waitRunning()
    await gw.waitState("telegram polling", (s) => telegramOf(s)?.state === "polling")

    tg.failNext("getUpdates", { status: 502, description: "Bad Gateway" }, 3)
    const retrying = await gw.waitState("telegram retrying", (s) => {
      const t = telegramOf(s)
      return t?.state === "retrying" ? t : undefined
    }, { timeoutMs: 10_000 })
    expect(retrying.error, "the error is shown while retrying").toEqual(expect.any(String))
    expect(retrying.error).toMatch(/502/)
    // A message sent while the Bot API is failing is answered once it recovers.
    tg.push({ chatId: 111, text: "during the outage" })
    await gw.waitState("telegram polling again", (s) => {
      const t = telegramOf(s)
      return tg.scriptedLeft("getUpdates") === 0 && t?.state === "polling" && t.error === null
    }, { timeoutMs: 20_000 })
    await waitAnswer(tg, 111, "during the outage")

    // 429 with retry_after: the next getUpdates waits at least that long. retry_after is 3 s so the
    // check tells it apart from the ordinary first backoff step (0.5-1 s).
    const before = tg.callsOf("getUpdates").length
    tg.failNext("getUpdates", { status: 429, description: "Too Many Requests: retry after 3", retryAfter: 3 })
    await tg.waitFor(() => tg.callsOf("getUpdates").slice(before).some((c) => c.status === 429), 30_000, "the 429 answer")
    const limited = tg.callsOf("getUpdates").slice(before).find((c) => c.status === 429)!
    await tg.waitFor(() => tg.callsOf("getUpdates").some((c) => c.at > limited.at), 30_000, "a getUpdates after the 429")
    const next = tg.callsOf("getUpdates").find((c) => c.at > limited.at)!
    expect(next.at - limited.answeredAt!, "retry_after (3 s) is honoured").toBeGreaterThanOrEqual(2_500)
    await gw.waitState("telegram polling after the 429", (s) => telegramOf(s)?.state === "polling" && telegramOf(s)?.error === null)

    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
  })

  it("a Bot API unreachable at start-up does not stop the gateway: Telegram starts 'retrying' and catches up", async (ctx) => {
    const { expect } = ctx
    const { tg, start } = await setup(ctx, { allowedUsers: [111] })
    tg.failNext("getMe", { status: 502, description: "Bad Gateway" }, 4)
    tg.push({ chatId: 111, text: "sent while the gateway was down" })
    const gw = start()
    await gw.waitRunning()
    const retrying = await gw.waitState("telegram retrying at start", (s) => {
      const t = telegramOf(s)
      return t?.state === "retrying" ? t : undefined
    }, { timeoutMs: 10_000 })
    expect(retrying.error).toMatch(/502/)
    await waitAnswer(tg, 111, "sent while the gateway was down", 30_000)
    await gw.waitState("telegram polling", (s) => telegramOf(s)?.state === "polling" && telegramOf(s)?.error === null)
    expect(gw.stderr).toContain("adapter telegram started but is not connected yet")
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
  })
})

describe.concurrent("telegram: chat commands", () => {
  it("/status from an allowed user answers with the pid and 'running'; the model never sees it", async (ctx) => {
    const { expect } = ctx
    const { tg, model, start } = await setup(ctx, { allowedUsers: [111] })
    const gw = start()
    await gw.waitRunning()
    tg.push({ chatId: 111, text: "/status" })
    // The reply may be a placeholder edited into the status: wait for the status text itself.
    await waitReply(tg, 111, /running/)
    const reply = tg.repliesTo(111).find((t) => /running/.test(t))!
    expect(reply).toMatch(new RegExp(`\\b${gw.pid}\\b`))
    expect(reply).toMatch(/running/)
    expect(model.requestsFor("/status")).toEqual([])
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
  })

  it("/restart from an allowed user restarts the gateway in place; the chat is told it restarted", async (ctx) => {
    const { expect } = ctx
    const { tg, model, sb, home, start } = await setup(ctx, { allowedUsers: [111] })
    const gw = start()
    await gw.waitRunning()
    tg.push({ chatId: 111, text: "before the restart" })
    await waitAnswer(tg, 111, "before the restart")

    const restartUpdate = tg.push({ chatId: 111, text: "/restart" })
    await waitReply(tg, 111, /^Restarting/)
    // Unsupervised (CONTRACT 3.4): a successor in the same process tree; the original stays its parent.
    const successor = await gw.waitSuccessor({ timeoutMs: 30_000 })
    sb.adopt(successor)
    expect(gw.alive, "the first process stays as the successor's parent").toBe(true)
    expect(home.readPidFile()?.pid).toBe(successor)
    expect(home.lifecycle().filter((r) => r.event === "shutdown").pop()).toMatchObject({ classification: "restart" })

    await waitReply(tg, 111, /restarted/, 20_000)
    tg.push({ chatId: 111, text: "after the restart" })
    await waitAnswer(tg, 111, "after the restart", 20_000)
    // The /restart update was acknowledged (an offset past it), so no life is handed it again; and a
    // second restart would have come before the answer to a later message of the same chat, which a
    // chat's messages are handled in the order they came.
    await tg.waitFor(() => !tg.held().includes(restartUpdate), 30_000, "the /restart update acknowledged")
    expect(home.readState()).toMatchObject({ gateway_state: "running", pid: successor })
    expect(tg.repliesTo(111).filter((t) => /^Restarting/.test(t))).toHaveLength(1)
    expect(model.requestsFor("/restart")).toEqual([])

    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    const replies = tg.repliesTo(111)
    expect(replies.filter(isAnswer)).toEqual([answerTo("before the restart"), answerTo("after the restart")])
  })

  it("with allowed_users empty nobody may /restart: the reply names allowed_users and nothing restarts", async (ctx) => {
    const { expect } = ctx
    const { tg, model, home, start } = await setup(ctx, { allowedUsers: [] })
    const gw = start()
    await gw.waitRunning()
    tg.push({ chatId: 333, text: "/restart" })
    await waitReply(tg, 333, /allowed_users/)
    // Same chat, so handled after the command: a restart would have begun (its "Restarting" reply
    // sent) before this answer. No wait beyond the answer is needed.
    tg.push({ chatId: 333, text: "still the same gateway?" })
    await waitAnswer(tg, 333, "still the same gateway?")
    expect(gw.alive).toBe(true)
    expect(home.readState()).toMatchObject({ gateway_state: "running", pid: gw.pid })
    expect(tg.repliesTo(333).some((t) => /^Restarting/.test(t))).toBe(false)
    expect(gw.stderr).not.toContain("starting the successor")
    expect(model.requestsFor("/restart")).toEqual([])
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
  })
})

describe.concurrent("telegram: stop during a slow answer, resumed by the next start", () => {
  it.for([
    { how: "a planned stop (gateway stop, exit 0)", planned: true },
    { how: "an unannounced SIGTERM (exit 1, as a container restart sends)", planned: false }
  ])(
    "$how tells the chat the message is saved; the next start resumes it and answers exactly once",
    { timeout: 90_000 },
    async ({ planned }, ctx) => {
      const { expect } = ctx
      const { tg, model, sb, home, start } = await setup(ctx, { allowedUsers: [111], drain: "1s", resumeWindow: "1h" })
      // The first life's answer is held until after it stopped: only the drain deadline ends that turn.
      model.hold("slow question")
      const gw = start("first life")
      await gw.waitRunning()
      tg.push({ chatId: 111, text: "slow question" })
      await model.waitForRequest("slow question", 30_000)

      if (planned) {
        const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
        expect(stop.code, stop.stdout + stop.stderr).toBe(0)
      } else {
        gw.signal("SIGTERM")
      }
      expect(await gw.waitExit(), gw.describe()).toEqual({ code: planned ? 0 : 1, signal: null })
      expect(tg.repliesTo(111).some((t) => /stopping/.test(t)), "the chat is told the gateway is stopping").toBe(true)
      expect(tg.repliesTo(111).some((t) => /saved/.test(t))).toBe(true)
      expect(tg.repliesTo(111).filter(isAnswer)).toEqual([])

      // The model answers at once now.
      model.release("slow question")
      const since = model.requests.length
      const next = start("second life")
      await next.waitRunning()
      await waitAnswer(tg, 111, "slow question", 30_000)
      // Anything more this life would send for that turn comes before the answer to a later message
      // of the same chat (handled in order): wait for that answer, then stop it and count.
      tg.push({ chatId: 111, text: "and now?" })
      await waitAnswer(tg, 111, "and now?", 30_000)
      next.signal("SIGINT")
      expect(await next.waitExit(), next.describe()).toEqual({ code: 0, signal: null })

      const replies = tg.repliesTo(111)
      const messages = tg.messagesIn(111)
      const resumed = messages.find((m) => /Resuming/.test(m.text))
      const answered = messages.find((m) => m.text === answerTo("slow question"))
      expect(resumed, `a resume notice in ${JSON.stringify(replies)}`).toBeDefined()
      expect(answered, `the answer in ${JSON.stringify(replies)}`).toBeDefined()
      // The answer may be an edit of the placeholder the first life sent before the stop: what counts
      // is when the answer text was set, not when its message was first sent.
      expect(textSetAt(resumed!), "the resume notice comes before the answer").toBeLessThanOrEqual(textSetAt(answered!))
      expect(replies.filter(isAnswer)).toEqual([answerTo("slow question"), answerTo("and now?")])
      // The answer went into the placeholder the first life recorded: none is left behind.
      expect(replies).not.toContain("…")
      expect(replies.some((t) => /something went wrong/.test(t))).toBe(false)
      // The resumed turn asked the model once, with the message once in its context.
      const asked = model.requests.slice(since).filter((r) => r.lastUser === "slow question")
      expect(asked).toHaveLength(1)
      expect(asked[0]!.messages.filter((m) => m.role === "user")).toEqual([{ role: "user", content: "slow question" }])
    }
  )
})

// Exactly once across SIGKILL: chats send at a steady rate while the gateway is SIGKILLed round
// after round at random moments; a final gateway then catches up. Every message pushed must be
// answered exactly once: 0 lost, 0 duplicated.
const killRounds = Number(process.env.HERMES_TG_KILL_ROUNDS ?? 20)
const killChats = 5

describe("telegram: SIGKILL under traffic", () => {
  it(`${killRounds} rounds of SIGKILL with ${killChats} chats sending: every message answered exactly once`, async (ctx) => {
    const { expect } = ctx
    const started = Date.now()
    const { tg, model, sb, home } = await setup(
      ctx,
      // A deliberate crash loop: the respawn-storm breaker (tested on its own) would make later rounds wait.
      { allowedUsers: [], drain: "2s", resumeWindow: "1h", gatewayExtra: ["respawn_storm:", "  window: 0"] },
      { delay: () => randomInt(0, 100) }
    )
    const env = telegramEnv(tg.token)
    const chatIds = Array.from({ length: killChats }, (_, c) => 7001 + c)
    /** Pushed text -> its chat. */
    const pushedChat = new Map<string, number>()
    const counters = chatIds.map(() => 0)

    let pushing = true
    const pusher = (async () => {
      for (let i = 0; pushing; i++) {
        const c = i % killChats
        const text = `c${c}-m${counters[c]!++}`
        pushedChat.set(text, chatIds[c]!)
        tg.push({ chatId: chatIds[c]!, text })
        // The traffic under test: a message every 20-50 ms, whatever the gateway is doing.
        await sleep(randomInt(20, 50))
      }
    })()

    // Answers are counted by the messages' current texts: one answer per message (messageId) whose
    // text is now `answer: <text>`, however it got there (sent so, or a placeholder edited into it).
    // Editing a message to the text it already has is a 400 and adds nothing. A placeholder still "…"
    // (a kill between sending it and recording it) is no answer: counted apart, as an orphan.
    const answerMessages = (): Array<SentMessage> => tg.sent.filter((m) => isAnswer(m.text))
    const answersOf = () => {
      const counts = new Map<string, number>()
      for (const m of answerMessages()) {
        const text = m.text.slice("answer: ".length)
        counts.set(text, (counts.get(text) ?? 0) + 1)
      }
      return counts
    }
    let roundsDone = 0
    /** When each SIGKILL was sent, to tell a duplicate that straddles a kill from one that does not. */
    const kills: Array<number> = []
    const lives: Array<Gateway> = []
    /**
     * At the last kill, each chat's oldest unanswered message. A chat runs one turn at a time in
     * order, so a turn running at the kill was among these, and the next life takes them first.
     */
    let inFlightAtKill: Array<string> = []
    try {
      for (let round = 1; round <= killRounds; round++) {
        const gw = sb.run(home, env, `round ${round}`)
        lives.push(gw)
        await gw.waitRunning(60_000)
        // Every other round first lets the turns that were running at the last kill finish, so no
        // turn runs in three lives that die in a row: that is the restart-loop breaker's case
        // (failed turn, suspended chat; tested on its own), not a loss. The other rounds may kill
        // again while those turns are being resumed.
        if (round % 2 === 1) {
          const waiting = inFlightAtKill
          await tg.waitFor(() => {
            const counts = answersOf()
            return waiting.every((text) => (counts.get(text) ?? 0) > 0)
          }, 60_000, () => `round ${round}: the turns running at the last kill answered (${waiting.join(", ")})`)
        }
        // The thing under test: a SIGKILL at a random moment of a running life.
        await sleep(randomInt(200, 1500))
        expect(gw.alive, gw.describe()).toBe(true)
        const answeredNow = answersOf()
        const oldestUnanswered = new Map<number, string>()
        for (const [text, chatId] of pushedChat) {
          if ((answeredNow.get(text) ?? 0) === 0 && !oldestUnanswered.has(chatId)) oldestUnanswered.set(chatId, text)
        }
        inFlightAtKill = [...oldestUnanswered.values()]
        kills.push(Date.now())
        gw.signal("SIGKILL")
        expect(await gw.waitExit(), gw.describe()).toEqual({ code: null, signal: "SIGKILL" })
        roundsDone = round
      }
    } finally {
      pushing = false
      await pusher
    }

    // The final life catches up with everything: what was delivered to a killed life, and what
    // was pushed but never delivered at all.
    const final = sb.run(home, env, "final")
    lives.push(final)
    await final.waitRunning(60_000)
    // Until all are answered, or until nothing new has been sent or edited for 30 s (stuck). Catching
    // up is mostly edits of placeholders sent by killed lives, so edits count too. Progress is the
    // fact waited on: on a loaded machine the backlog of twenty lives can take minutes, so the only
    // time limit is what the test's own timeout leaves after the last words and the stop (2 min).
    const deadline = started + 480_000
    let lastProgress = Date.now()
    const progress = () => tg.sent.length + tg.edits.length
    let progressSoFar = progress()
    while (Date.now() < deadline && Date.now() - lastProgress < 30_000) {
      const counts = answersOf()
      if ([...pushedChat.keys()].every((text) => (counts.get(text) ?? 0) > 0)) break
      if (progress() !== progressSoFar) {
        progressSoFar = progress()
        lastProgress = Date.now()
      }
      await sleep(100) // the polling interval
    }
    // A late duplicate (a turn of the backlog run or delivered again) comes before the answer to a
    // later message of its chat, which is handled in order: one more message per chat, answered,
    // then stop in order.
    // (Skipped when messages are still unanswered: the assertions below then say which.)
    const caughtUp = [...pushedChat.keys()].every((text) => (answersOf().get(text) ?? 0) > 0)
    if (caughtUp) {
      const lastWords = chatIds.map((chatId, c) => {
        const text = `c${c}-last`
        pushedChat.set(text, chatId)
        tg.push({ chatId, text })
        return { chatId, text }
      })
      for (const { chatId, text } of lastWords) await waitAnswer(tg, chatId, text, 60_000)
    }
    final.signal("SIGINT")
    const finalExit = await final.waitExit(60_000)

    const counts = answersOf()
    const pushedTexts = [...pushedChat.keys()]
    const lost = pushedTexts.filter((t) => (counts.get(t) ?? 0) === 0)
    const duplicated = pushedTexts.filter((t) => (counts.get(t) ?? 0) > 1)
    const misrouted = answerMessages().filter((m) => pushedChat.get(m.text.slice("answer: ".length)) !== m.chatId)
    const orphanPlaceholders = tg.sent.filter((m) => isPlaceholder(m.text))
    const editCalls = tg.callsOf("editMessageText")
    const notModified = editCalls.filter((c) => c.status === 400 && /not modified/.test(c.description ?? ""))
    const failures = tg.sent.filter((m) => /something went wrong/.test(m.text))
    const refusals = tg.sent.filter((m) => /could not be taken|was not taken/.test(m.text))
    const suspended = lives.some((gw) => /session_suspended|is suspended/.test(gw.stderr))
    const answered = pushedTexts.length - lost.length
    // A duplicate whose first copy went out shortly before a kill is the window between sending and
    // recording the delivery (Telegram has no idempotency key); the gap says how wide it was. A copy
    // "went out" when its message got the answer text: the edit of a placeholder, or the sending.
    const duplicateGaps = duplicated.map((text) => {
      const first = Math.min(...answerMessages().filter((m) => m.text === answerTo(text)).map(textSetAt))
      const kill = kills.find((k) => k >= first)
      return { text, gapMs: kill === undefined ? undefined : kill - first, asked: model.requestsFor(text).length }
    })
    console.log(
      `telegram sigkill: rounds=${roundsDone} pushed=${pushedTexts.length} delivered=${tg.delivered.size} ` +
        `answered=${answered} lost=${lost.length} duplicated=${duplicated.length}`
    )
    console.log(
      `telegram sigkill details: seconds=${Math.round((Date.now() - started) / 1000)} model_requests=${model.requests.length} ` +
        `sent=${tg.sent.length} edits=${tg.edits.length} edits_not_modified=${notModified.length} ` +
        `edits_failed=${editCalls.filter((c) => c.status !== 200).length} orphan_placeholders=${orphanPlaceholders.length} ` +
        `failures=${failures.length} refusals=${refusals.length} session_suspended=${suspended} ` +
        `misrouted=${misrouted.length} conflicts=${tg.conflicts}` +
        (lost.length > 0 ? ` lost_sample=${lost.slice(0, 10).join(",")}` : "") +
        (duplicated.length > 0
          ? ` duplicated_sample=${duplicateGaps.slice(0, 10).map((d) => `${d.text}x${counts.get(d.text)}(first sent ${d.gapMs ?? "?"}ms before a kill, model asked ${d.asked}x)`).join(",")}` +
            ` duplicate_gap_max_ms=${Math.max(...duplicateGaps.map((d) => d.gapMs ?? Infinity))}`
          : "")
    )

    expect(roundsDone).toBe(killRounds)
    expect(lost, "lost: pushed, never answered").toEqual([])
    // A duplicate whose first copy did not go out just before a kill is a plain bug (sent twice by
    // one life, or a delivery record lost): checked first, so such a failure says so.
    const unexplained = duplicateGaps.filter((d) => d.gapMs === undefined || d.gapMs > 1_000)
    expect(unexplained, "duplicated without a kill right after the first copy").toEqual([])
    expect(duplicated, "duplicated: answered more than once").toEqual([])
    expect(misrouted.map((m) => `${m.text} -> chat ${m.chatId}`), "answers in the wrong chat").toEqual([])
    expect(finalExit, final.describe()).toEqual({ code: 0, signal: null })
    // Generous: twenty lives start one after another, slowly on a loaded machine; a deadline costs
    // nothing when the facts arrive.
  }, 600_000)
})
