// Telegram across replicas (sessions.engine: postgres): two built gateways, each its own home, share
// one PostgreSQL database and one bot token, against the fake Bot API. Each is given its own base
// URL path (`<fake>/replica-a`, `<fake>/replica-b`), so the fake tells which one polls. Exactly one
// polls; a planned stop of the leader hands polling to the other at once; a SIGKILLed leader is
// replaced within poll_timeout + 10 s; and across the failover every update is answered exactly once.
import * as Effect from "effect/Effect"
import { beforeAll, describe, it, type TestContext } from "vitest"
import { FakeTelegram } from "./fakes/FakeTelegram.js"
import { CuttableLink } from "./fixtures/CuttableLink.js"
import { sendChat } from "./fixtures/sessions-client.js"
import { assertBuilt, type Gateway, type Home, Sandbox, telegramConfig, telegramEnv, waitFor } from "./harness.js"
import { databaseFor } from "./fixtures/scratch-database.js"
import { pgRawQuery, postgresUrl, urlFor } from "../unit/sessions/postgres.js"

beforeAll(assertBuilt)

const skipped = postgresUrl === undefined ? " (skipped: POSTGRES_TEST_URL is unset; .ci/run starts a PostgreSQL and sets it)" : ""
const pollTimeoutSeconds = 2

interface Replicas {
  readonly tg: FakeTelegram
  readonly sb: Sandbox
  readonly database: string
  readonly homes: { readonly a: Home; readonly b: Home }
  readonly start: (which: "a" | "b", label?: string) => Gateway
}

const setup = async (ctx: TestContext, echoDelay = "0s", databasePort?: number): Promise<Replicas> => {
  const sb = new Sandbox(ctx)
  const tg = await FakeTelegram.start(ctx)
  ctx.onTestFailed(() => {
    process.stderr.write(`\n[${ctx.task.name}]\n${tg.summary()}\n`)
  })
  const database = await databaseFor(ctx)
  const config = (name: string) =>
    telegramConfig({ botApi: `${tg.url}/${name}`, pollTimeout: `${pollTimeoutSeconds}s` })
      .replace("  kind: echo\n", `  kind: echo\n  echo:\n    delay: ${echoDelay}\n`) + "sessions:\n  engine: postgres\n"
  const homes = { a: sb.home(config("replica-a")), b: sb.home(config("replica-b")) }
  const url = new URL(urlFor(database))
  if (databasePort !== undefined) url.port = String(databasePort)
  const env = { ...telegramEnv(tg.token), DATABASE_URL: url.toString() }
  return { tg, sb, database, homes, start: (which, label = `replica ${which}`) => sb.run(homes[which], env, label) }
}

const telegramOf = (state: Record<string, any>): { state?: string; error?: string | null } => state.platforms?.telegram ?? {}

/** getUpdates calls made by one replica (by its base URL path). */
const pollsBy = (tg: FakeTelegram, name: string) => tg.callsOf("getUpdates").filter((call) => call.via === name)

/** The messages whose current text is `text` (an answer edited into its placeholder counts once). */
const answersOf = (tg: FakeTelegram, chatId: number, text: string) => tg.messagesIn(chatId).filter((m) => m.text === text)

describe.skipIf(postgresUrl === undefined)(`telegram across replicas (two built gateways, one PostgreSQL)${skipped}`, () => {
  it("exactly one polls, the other says standby naming it (never the token); a planned stop hands polling over at once", async (ctx) => {
    const { expect } = ctx
    const { tg, sb, homes, start } = await setup(ctx)
    const a = start("a")
    await a.waitRunning()
    await a.waitState("telegram polling on replica a", (state) => telegramOf(state).state === "polling")
    const b = start("b")
    await b.waitRunning()
    const standby = await b.waitState("telegram standby on replica b", (state) =>
      telegramOf(state).state === "standby" ? telegramOf(state).error : undefined)
    expect(standby).toMatch(/^another replica polls: hermes-telegram \S+ pid \d+$/)
    expect(standby).toContain(`pid ${a.pid}`)

    tg.push({ chatId: 501, text: "while a leads" })
    await tg.waitFor(() => answersOf(tg, 501, "while a leads").length === 1, 30_000, "the answer in chat 501")
    expect(pollsBy(tg, "replica-b")).toEqual([])
    expect(pollsBy(tg, "replica-a").length).toBeGreaterThan(0)
    const status = await sb.cli(["gateway", "status", "--home", homes.b.dir])
    expect(status.stdout).toMatch(/adapter telegram: standby \(another replica polls: hermes-telegram \S+ pid \d+\)/)
    for (const text of [status.stdout, status.stderr, JSON.stringify(homes.b.readState()), a.stderr, b.stderr]) {
      expect(text.includes(tg.token)).toBe(false)
    }

    const stop = await sb.cli(["gateway", "stop", "--home", homes.a.dir])
    expect(stop.code, stop.stderr).toBe(0)
    const aExit = await a.waitExit()
    expect(aExit.code).toBe(0)
    const exitedAt = Date.now()
    // The leader resigns when it stops taking messages (shutdown step 2) and tells the others: the
    // follower polls before the old leader has even finished its shutdown, or very soon after.
    await tg.waitFor(() => pollsBy(tg, "replica-b").length > 0, 5_000, "replica b polling after a's planned stop")
    expect(pollsBy(tg, "replica-b")[0]!.at).toBeLessThanOrEqual(exitedAt + 5_000)
    await b.waitLog("telegram: this replica polls the bot now")
    tg.push({ chatId: 501, text: "after a stopped" })
    await tg.waitFor(() => answersOf(tg, 501, "after a stopped").length === 1, 30_000, "the answer from replica b")
    expect(answersOf(tg, 501, "while a leads").length).toBe(1)

    await sb.cli(["gateway", "stop", "--home", homes.b.dir])
    expect((await b.waitExit()).code).toBe(0)
  }, 120_000)

  it("a planned stop of the leader while updates arrive: every update is answered exactly once", async (ctx) => {
    const { expect } = ctx
    const { tg, sb, database, homes, start } = await setup(ctx, "300ms")
    const a = start("a")
    await a.waitRunning()
    await a.waitState("telegram polling on replica a", (state) => telegramOf(state).state === "polling")
    const b = start("b")
    await b.waitRunning()
    await b.waitState("telegram standby on replica b", (state) => telegramOf(state).state === "standby")

    const chats = [801, 802, 803]
    const pushed: Array<{ chatId: number; text: string }> = []
    const pusher = setInterval(() => {
      const message = { chatId: chats[pushed.length % chats.length]!, text: `planned ${pushed.length}` }
      pushed.push(message)
      tg.push(message)
    }, 50)
    ctx.onTestFinished(() => clearInterval(pusher))
    const answered = () => pushed.filter((m) => answersOf(tg, m.chatId, m.text).length > 0).length
    await tg.waitFor(() => answered() >= 6, 30_000, "some answers from replica a")
    const stop = await sb.cli(["gateway", "stop", "--home", homes.a.dir])
    expect(stop.code, stop.stderr).toBe(0)
    expect((await a.waitExit()).code).toBe(0)
    await tg.waitFor(() => pushed.length >= 50, 30_000, "more updates after the stop")
    clearInterval(pusher)
    // Updates a had queued but not begun were never acknowledged: b gets them from Telegram; turns
    // a's drain cut short (if any) are resume_pending, and b resumes them.
    await tg.waitFor(() => answered() === pushed.length, 60_000, () => `every update answered (${answered()}/${pushed.length})`)
    for (const message of pushed) {
      expect(answersOf(tg, message.chatId, message.text).length, `answers to ${message.text}`).toBe(1)
    }
    const [twice] = await Effect.runPromise(pgRawQuery(database, [["SELECT external_id FROM turns GROUP BY external_id HAVING COUNT(*) > 1"]]))
    expect(twice).toEqual([])

    await sb.cli(["gateway", "stop", "--home", homes.b.dir])
    expect((await b.waitExit()).code).toBe(0)
  }, 180_000)

  it("a SIGKILLed leader is replaced within poll_timeout + 10 s, and every update is answered exactly once", async (ctx) => {
    const { expect } = ctx
    const { tg, sb, database, homes, start } = await setup(ctx, "200ms")
    const a = start("a")
    await a.waitRunning()
    await a.waitState("telegram polling on replica a", (state) => telegramOf(state).state === "polling")
    const b = start("b")
    await b.waitRunning()
    await b.waitState("telegram standby on replica b", (state) => telegramOf(state).state === "standby")

    const chats = [601, 602, 603, 604]
    const pushed: Array<{ chatId: number; text: string }> = []
    const push = () => {
      const n = pushed.length
      const message = { chatId: chats[n % chats.length]!, text: `message ${n}` }
      pushed.push(message)
      tg.push(message)
    }
    const answered = () => pushed.filter((m) => answersOf(tg, m.chatId, m.text).length > 0).length
    // Updates keep arriving, a few at a time, before and after the kill.
    const pusher = setInterval(push, 40)
    ctx.onTestFinished(() => clearInterval(pusher))
    await tg.waitFor(() => answered() >= 8, 30_000, "some answers from replica a")
    // Killed with a turn running (the fact the pickup below needs), not merely after some answers:
    // on a loaded machine a can be between turns at any given moment.
    await waitFor("a turn running on replica a", async () => {
      const [running] = await Effect.runPromise(pgRawQuery(database, [["SELECT COUNT(*) AS n FROM turns WHERE status = 'running'"]]))
      return Number(running![0]!.n) > 0 ? true : undefined
    }, { timeoutMs: 30_000, intervalMs: 10, context: () => tg.summary() })
    const killedAt = Date.now()
    a.signal("SIGKILL")
    await a.waitExit()
    await tg.waitFor(() => pollsBy(tg, "replica-b").length > 0, (pollTimeoutSeconds + 10) * 1000, "replica b polling after a was killed")
    expect(pollsBy(tg, "replica-b")[0]!.at - killedAt).toBeLessThanOrEqual((pollTimeoutSeconds + 10) * 1000)
    await tg.waitFor(() => pushed.length >= 60, 30_000, "more updates after the kill")
    clearInterval(pusher)

    // The turns a was running when it died: the replicas' lease recovery marks them resume_pending
    // once a's lease has expired; here the test does it (a ran every turn that began before the kill,
    // b none of them), and the Telegram leader must pick them up and answer each once. Meanwhile b
    // answers no later message of a chat whose turn a left running: those wait, in order.
    await waitFor("every update answered, left running by a, or waiting behind it", async () => {
      const [running] = await Effect.runPromise(pgRawQuery(database, [[
        "SELECT t.external_id, s.chat_key FROM turns t JOIN sessions s ON s.id = t.session_id WHERE t.status = 'running'"
      ]]))
      const left = new Set(running!.map((row) => String(row.external_id)))
      const heldChats = new Set(running!.map((row) => String(row.chat_key)))
      const unanswered = tg.pushed.filter((p) => answersOf(tg, p.chatId, p.text ?? "").length === 0)
      const waiting = (chatId: number) => heldChats.has(String(chatId)) && b.stderr.includes(`chat ${chatId} waits for`)
      return unanswered.every((p) => left.has(String(p.updateId)) || waiting(p.chatId)) ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 200, context: () => tg.summary() })
    await Effect.runPromise(pgRawQuery(database, [[
      "UPDATE turns SET status = 'resume_pending' WHERE status = 'running' AND started_at < ?",
      [new Date(killedAt).toISOString()]
    ]]))
    await tg.waitFor(() => answered() === pushed.length, 60_000, () => `every update answered (${answered()}/${pushed.length})`)
    // a died with turns running (each chat is kept busy): b resumed them.
    expect(b.stderr).toMatch(/telegram: turns left behind picked up: resume=[1-9]/)

    for (const message of pushed) {
      expect(answersOf(tg, message.chatId, message.text).length, `answers to ${message.text}`).toBe(1)
    }
    // Each chat's transcript in order: every answer right after the message it answers (echo).
    const [stored] = await Effect.runPromise(pgRawQuery(database, [[
      "SELECT m.session_id, m.seq, m.role, m.content FROM messages m ORDER BY m.session_id, m.seq"
    ]]))
    const disordered = stored!.filter((row, i) =>
      row.role === "assistant" &&
      (stored![i - 1]?.session_id !== row.session_id || stored![i - 1]?.role !== "user" || stored![i - 1]?.content !== row.content)
    )
    expect(disordered.map((row) => `${row.session_id} seq ${row.seq}: ${row.content}`)).toEqual([])
    // No update was run as two turns.
    const [turns] = await Effect.runPromise(pgRawQuery(database, [["SELECT external_id, COUNT(*) AS n FROM turns GROUP BY external_id HAVING COUNT(*) > 1"]]))
    expect(turns).toEqual([])
    expect(pollsBy(tg, "replica-b").every((call) => call.at >= killedAt)).toBe(true)

    await sb.cli(["gateway", "stop", "--home", homes.b.dir])
    expect((await b.waitExit()).code).toBe(0)
  }, 180_000)

  it("the database lost while running: Telegram waits (no polling, nothing acknowledged) with a clear log line, and goes on when it is back", async (ctx) => {
    const { expect } = ctx
    const server = new URL(postgresUrl!)
    const link = await CuttableLink.open({ host: server.hostname, port: Number(server.port) })
    ctx.onTestFinished(() => link.close())
    const { tg, sb, homes, start } = await setup(ctx, "0s", link.port)
    const a = start("a")
    const port = await a.waitRunning()
    await a.waitState("telegram polling", (state) => telegramOf(state).state === "polling")
    tg.push({ chatId: 701, text: "before the outage" })
    await tg.waitFor(() => answersOf(tg, 701, "before the outage").length === 1, 30_000, "the first answer")

    await link.cut()
    const waiting = await a.waitState("telegram waiting", (state) => telegramOf(state).state === "waiting" ? telegramOf(state).error : undefined)
    expect(waiting).toMatch(/^session database unreachable, not polling: /)
    await a.waitLog(/level=ERROR message="telegram: lost the polling lock's connection, stopped polling: .*; updates wait at Telegram and nothing more is acknowledged until the session database is back"/)
    const waitingSince = Date.now()
    const during = tg.push({ chatId: 701, text: "during the outage" })
    // Meanwhile HTTP refuses new turns (503) and the update waits at Telegram, not polled.
    const refused = await sendChat(port, { text: "over http meanwhile", user: "erin" })
    expect(refused.status).toBe(503)
    await a.waitLog(/message refused \(storage\)/)
    expect(tg.deliveries.get(during)).toBeUndefined()

    const restoredAt = Date.now()
    await link.restore()
    await tg.waitFor(() => answersOf(tg, 701, "during the outage").length === 1, 30_000, "the answer once the database is back")
    await a.waitLog("telegram: the session database answers again")
    expect(tg.callsOf("getUpdates").filter((call) => call.at >= waitingSince && call.at < restoredAt)).toEqual([])
    expect(answersOf(tg, 701, "before the outage").length).toBe(1)

    await sb.cli(["gateway", "stop", "--home", homes.a.dir])
    expect((await a.waitExit()).code).toBe(0)
  }, 120_000)
})
