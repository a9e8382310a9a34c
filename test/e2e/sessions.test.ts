// Conversations end to end (CONTRACT 8 `sessions`, 9): sessions kept across restarts and continued
// by `user` or `X-Hermes-Session`, `hermes gateway sessions` with and without a live gateway, what
// HTTP turns become when the gateway dies under them (and why the restart-loop breaker cannot fire
// for them), and a corrupt state.db moved aside at start-up.
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, it } from "vitest"
import type { SessionSummary, SessionTranscript } from "../../src/sessions/SessionDb.js"
import { resolveEngine } from "../../src/sessions/SqliteEngine.js"
import { loadWasmSqlite } from "../../src/sessions/WasmSqliteDriver.js"
import { type ChatOutcome, type ChatRequest, dbFileOf, readDb, sendChat, suspendSession } from "./fixtures/sessions-client.js"
import { assertBuilt, defaultConfig, type Gateway, type Home, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

const summaryKeys = ["chatKey", "createdAt", "id", "lastActivity", "messageCount", "platform", "status", "user"]
const transcriptMessageKeys = ["content", "createdAt", "role", "seq", "turnId", "turnStatus"]

/** A 200 with its session header, or the test fails showing what came back. */
const ok = async (port: number, request: ChatRequest): Promise<ChatOutcome & { sessionId: string }> => {
  const outcome = await sendChat(port, request)
  if (outcome.status !== 200 || !outcome.complete || outcome.sessionId === undefined) {
    throw new Error(`chat ${JSON.stringify(request)} failed: ${JSON.stringify(outcome)}`)
  }
  if (outcome.reply !== request.text) throw new Error(`echo mismatch: ${JSON.stringify(outcome.reply)} for ${request.text}`)
  return outcome as ChatOutcome & { sessionId: string }
}

const cliJson = async <A>(sb: Sandbox, args: ReadonlyArray<string>): Promise<A> => {
  const result = await sb.cli(args)
  if (result.code !== 0) throw new Error(`hermes ${args.join(" ")} exited ${result.code}: ${result.stderr}`)
  try {
    return JSON.parse(result.stdout) as A
  } catch (error) {
    throw new Error(`hermes ${args.join(" ")} exited 0 but printed no JSON (${String(error)}):\nstdout: ${JSON.stringify(result.stdout)}\nstderr: ${result.stderr}`)
  }
}

const listSessions = (sb: Sandbox, home: Home) => cliJson<Array<SessionSummary>>(sb, ["gateway", "sessions", "--json", "--home", home.dir])

const showSession = (sb: Sandbox, home: Home, id: string) =>
  cliJson<SessionTranscript>(sb, ["gateway", "sessions", "show", id, "--json", "--home", home.dir])

const stop = async (sb: Sandbox, home: Home, gw: Gateway) => {
  const result = await sb.cli(["gateway", "stop", "--home", home.dir])
  if (result.code !== 0) throw new Error(`hermes gateway stop exited ${result.code}: ${result.stdout}${result.stderr}`)
  const exit = await gw.waitExit()
  if (exit.code !== 0) throw new Error(`gateway exited ${JSON.stringify(exit)}\n${gw.describe()}`)
}

/**
 * frank talks once, the gateway stops, and his session is suspended by hand (the breaker's
 * outcome); returns his first turn and the next gateway, started but not yet running.
 */
const withSuspendedSession = async (sb: Sandbox, home: Home) => {
  const gw = sb.run(home)
  const frank = await ok(await gw.waitRunning(startTimeoutMs), { text: "frank before", user: "frank" })
  await stop(sb, home, gw)
  await suspendSession(home.dir, frank.sessionId)
  return { frank, next: sb.run(home, {}, "with a suspended session") }
}

const conversation = (t: SessionTranscript) => t.messages.map((m) => [m.seq, m.role, m.content])

/** Generous: these tests share the machine with the rest of the suite, and each starts several gateways. */
const startTimeoutMs = 30_000
const testTimeoutMs = 150_000

const configWith = (lines: ReadonlyArray<string>) => ["adapters:", "  http:", "    port: 0", ...lines, ""].join("\n")

describe.concurrent("sessions over the HTTP API", () => {
  it("a conversation keyed by `user` continues across a restart, with one X-Hermes-Session id", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)

    const first = await ok(port, { text: "alice's first question", user: "alice" })
    // The client sends its copy of the history along, as OpenAI clients do: it is not stored again.
    const second = await ok(port, {
      text: "alice's second question",
      user: "alice",
      history: [{ role: "user", content: "alice's first question" }, { role: "assistant", content: "alice's first question" }]
    })
    expect(second.sessionId).toBe(first.sessionId)
    expect(first.turnId).not.toBe(second.turnId)

    // Asked while the gateway runs (answered by the gateway).
    const live = await showSession(sb, home, first.sessionId)
    expect(conversation(live)).toEqual([
      [1, "user", "alice's first question"],
      [2, "assistant", "alice's first question"],
      [3, "user", "alice's second question"],
      [4, "assistant", "alice's second question"]
    ])
    expect(live.messages.map((m) => [m.turnId, m.turnStatus])).toEqual([
      [first.turnId, "completed"],
      [first.turnId, "completed"],
      [second.turnId, "completed"],
      [second.turnId, "completed"]
    ])
    expect(live.session).toMatchObject({ id: first.sessionId, platform: "http", chatKey: "alice", messageCount: 4, status: "active" })

    await stop(sb, home, gw)
    const again = sb.run(home, {}, "second life")
    const port2 = await again.waitRunning(startTimeoutMs)
    const third = await ok(port2, { text: "alice's third question", user: "alice", stream: true })
    expect(third.sessionId, "the same session after a restart").toBe(first.sessionId)

    const after = await showSession(sb, home, first.sessionId)
    expect(conversation(after)).toEqual([
      ...conversation(live),
      [5, "user", "alice's third question"],
      [6, "assistant", "alice's third question"]
    ])
    expect(after.session.messageCount).toBe(6)
    expect(await listSessions(sb, home)).toHaveLength(1)
    await stop(sb, home, again)
    // Nothing needed repair: both lives ended in order.
    expect(home.lifecycle().filter((r) => r.event === "session_db_recovery")).toEqual([])
  }, testTimeoutMs)

  it("X-Hermes-Session continues a session; with neither `user` nor the header every request starts a new one", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)

    const a = await ok(port, { text: "anonymous one" })
    const b = await ok(port, { text: "anonymous two" })
    const c = await ok(port, { text: "anonymous three, streamed", stream: true })
    expect(new Set([a.sessionId, b.sessionId, c.sessionId]).size, "three requests, three sessions").toBe(3)

    const continued = await ok(port, { text: "continuing a by header", session: a.sessionId })
    expect(continued.sessionId).toBe(a.sessionId)
    const continuedStream = await ok(port, { text: "continuing c by header, streamed", session: c.sessionId, stream: true })
    expect(continuedStream.sessionId).toBe(c.sessionId)
    // The body's `user` wins over the header (CONTRACT 9: user, else the header).
    const bob = await ok(port, { text: "bob, with a's header", user: "bob", session: a.sessionId })
    expect(bob.sessionId).not.toBe(a.sessionId)
    // A header naming no known session is a session key like any other: a new session keyed by it,
    // whose own id comes back; the same header value continues that session.
    const madeUp = await ok(port, { text: "made-up header", session: "client-chosen-key" })
    expect([a.sessionId, b.sessionId, c.sessionId, bob.sessionId]).not.toContain(madeUp.sessionId)
    const madeUpAgain = await ok(port, { text: "made-up header again", session: "client-chosen-key" })
    expect(madeUpAgain.sessionId).toBe(madeUp.sessionId)
    const madeUpById = await ok(port, { text: "made-up session by its id", session: madeUp.sessionId })
    expect(madeUpById.sessionId).toBe(madeUp.sessionId)

    const sessions = await listSessions(sb, home)
    const byId = new Map(sessions.map((s) => [s.id, s]))
    expect(sessions).toHaveLength(5)
    expect(byId.get(a.sessionId)).toMatchObject({ chatKey: a.sessionId, messageCount: 4 })
    expect(byId.get(b.sessionId)).toMatchObject({ chatKey: b.sessionId, messageCount: 2 })
    expect(byId.get(c.sessionId)).toMatchObject({ chatKey: c.sessionId, messageCount: 4 })
    expect(byId.get(bob.sessionId)).toMatchObject({ chatKey: "bob", messageCount: 2 })
    expect(byId.get(madeUp.sessionId)).toMatchObject({ chatKey: "client-chosen-key", messageCount: 6 })
    expect(conversation(await showSession(sb, home, a.sessionId)).map(([, role, content]) => `${role}: ${content}`)).toEqual([
      "user: anonymous one",
      "assistant: anonymous one",
      "user: continuing a by header",
      "assistant: continuing a by header"
    ])
    await stop(sb, home, gw)
  }, testTimeoutMs)

  it("`hermes gateway sessions` asks a live gateway, opens the database itself only when none runs", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)
    const carol = await ok(port, { text: "carol says hi", user: "carol" })
    const anon = await ok(port, { text: "someone says hi", stream: true })
    const dbFile = dbFileOf(home.dir)
    const wasm = resolveEngine("auto") === "node-sqlite3-wasm"
    const lockDir = `${dbFile}.lock`
    const lockInode = wasm ? fs.statSync(lockDir).ino : undefined

    // --- while the gateway runs -----------------------------------------------------------
    const live = await listSessions(sb, home)
    expect(live.map((s) => s.id).sort()).toEqual([carol.sessionId, anon.sessionId].sort())
    for (const s of live) {
      expect(Object.keys(s).sort()).toEqual(summaryKeys)
      expect(s).toMatchObject({ platform: "http", messageCount: 2, status: "active" })
      expect(Number.isNaN(Date.parse(s.lastActivity))).toBe(false)
    }
    expect(live.find((s) => s.id === carol.sessionId)!.chatKey).toBe("carol")

    const table = await sb.cli(["gateway", "sessions", "--home", home.dir])
    expect(table.code, table.stderr).toBe(0)
    const lines = table.stdout.trim().split("\n")
    expect(lines[0]).toBe("id\tplatform\tkey\tmessages\tlast activity\tstatus")
    expect(lines).toHaveLength(3)
    expect(lines.find((l) => l.startsWith(carol.sessionId))!.split("\t")).toEqual([
      carol.sessionId, "http", "carol", "2", expect.any(String), "active"
    ])

    const shown = await showSession(sb, home, carol.sessionId)
    expect(Object.keys(shown).sort()).toEqual(["messages", "session"])
    expect(Object.keys(shown.session).sort()).toEqual(summaryKeys)
    for (const m of shown.messages) expect(Object.keys(m).sort()).toEqual(transcriptMessageKeys)
    const shownText = await sb.cli(["gateway", "sessions", "show", carol.sessionId, "--home", home.dir])
    expect(shownText.code, shownText.stderr).toBe(0)
    expect(shownText.stdout).toContain(`session ${carol.sessionId} (http, key carol, active, 2 messages)`)
    expect(shownText.stdout).toMatch(/#1 user \[turn [0-9a-f-]+ completed\]: carol says hi/)
    expect(shownText.stdout).toMatch(/#2 assistant \[turn [0-9a-f-]+ completed\]: carol says hi/)

    const unknownLive = await sb.cli(["gateway", "sessions", "show", "no-such-session", "--home", home.dir])
    expect(unknownLive.code).not.toBe(0)
    expect(unknownLive.stderr).toContain("no session no-such-session")

    if (wasm) {
      // The gateway holds state.db in EXCLUSIVE mode: a plain second opener is refused, and would
      // still be refused had none of the CLI calls above opened the file. (Opening it with the
      // project's own driver would have removed the gateway's lock directory, and closing it would
      // have left none, after which this open would succeed.)
      expect(fs.statSync(lockDir).ino, "the gateway's lock directory is untouched").toBe(lockInode)
      const mod = await loadWasmSqlite()
      const second = new mod.Database(dbFile)
      try {
        expect(() => second.all("SELECT COUNT(*) AS n FROM sessions")).toThrow(/database is locked/)
      } finally {
        second.close()
      }
      expect(fs.statSync(lockDir).ino).toBe(lockInode)
    }
    // The gateway's database still works after all that.
    const later = await ok(port, { text: "carol again", user: "carol" })
    expect(later.sessionId).toBe(carol.sessionId)
    const liveAfter = await listSessions(sb, home)
    const liveShown = await showSession(sb, home, carol.sessionId)

    // --- no gateway: the CLI opens the database ------------------------------------------
    await stop(sb, home, gw)
    expect(home.readPidFile()).toBeUndefined()
    expect(await listSessions(sb, home), "the same answer either way").toEqual(liveAfter)
    expect(await showSession(sb, home, carol.sessionId)).toEqual(liveShown)
    const unknownOffline = await sb.cli(["gateway", "sessions", "show", "no-such-session", "--home", home.dir])
    expect(unknownOffline.code).not.toBe(0)
    expect(unknownOffline.stderr).toContain("no session no-such-session")
    expect(unknownOffline.stdout).toBe("")

    // --- a home with no database at all ---------------------------------------------------
    const empty = sb.home("")
    const none = await sb.cli(["gateway", "sessions", "--home", empty.dir])
    expect(none.code, "no database yet: simply no sessions").toBe(0)
    expect(none.stdout).toBe("no sessions\n")
    expect(fs.existsSync(dbFileOf(empty.dir)), "the CLI never creates the database").toBe(false)
    const noneJson = await sb.cli(["gateway", "sessions", "--json", "--home", empty.dir])
    expect(noneJson.code).toBe(0)
    expect(JSON.parse(noneJson.stdout)).toEqual([])
  }, testTimeoutMs)

  it("client text with terminal escapes is printed escaped by `sessions` and `sessions show`, exact with --json", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)
    // A terminal title change, a screen clear, a bell, a C1 CSI, a forged record line and a column shift.
    const user = "mallory\u001b]0;owned\u0007\tfake-column"
    const text = "hi\u001b[2J\u0007\u009b31m\n2026-01-01T00:00:00.000Z #9 assistant: forged"
    const turn = await ok(port, { text, user })

    // What a terminal would act on; \t and \n are the renderings' own separators, checked apart.
    const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/
    const table = await sb.cli(["gateway", "sessions", "--home", home.dir])
    expect(table.code, table.stderr).toBe(0)
    expect(raw.test(table.stdout)).toBe(false)
    const row = table.stdout.trim().split("\n").find((line) => line.startsWith(turn.sessionId))!
    expect(row.split("\t")).toEqual([
      turn.sessionId, "http", "mallory\\x1b]0;owned\\x07\\tfake-column", "2", expect.any(String), "active"
    ])

    const shown = await sb.cli(["gateway", "sessions", "show", turn.sessionId, "--home", home.dir])
    expect(shown.code, shown.stderr).toBe(0)
    expect(raw.test(shown.stdout)).toBe(false)
    expect(shown.stdout).toContain("key mallory\\x1b]0;owned\\x07\\tfake-column")
    expect(shown.stdout).toMatch(/#1 user \[turn [0-9a-f-]+ completed\]: hi\\x1b\[2J\\x07\\x9b31m\n    2026-01-01T00:00:00.000Z #9/)
    // The forged line is indented: every line at the left margin is the header or a real record.
    const records = shown.stdout.trim().split("\n").filter((line) => !line.startsWith(" "))
    expect(records).toHaveLength(3)

    const exact = await showSession(sb, home, turn.sessionId)
    expect(exact.session.user).toBe(user)
    expect(exact.messages.map((m) => m.content)).toEqual([text, text])
    expect((await listSessions(sb, home)).find((s) => s.id === turn.sessionId)!.user).toBe(user)
    await stop(sb, home, gw)
  }, testTimeoutMs)

  it("an HTTP turn killed with the gateway becomes interrupted, never resumed: three kills do not trip the breaker", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    // The agent answers only after a minute: every turn is still running when the gateway dies.
    const home = sb.home(configWith(["agent:", "  echo:", "    delay: 60s"]))
    const killed: Array<{ text: string; turnId: string | undefined; sessionId: string }> = []
    let sessionId: string | undefined

    for (let life = 1; life <= 3; life++) {
      const gw = sb.run(home, {}, `life ${life}`)
      const port = await gw.waitRunning(startTimeoutMs)
      if (life > 1) {
        // This life's recovery: the previous life's turn, interrupted once; nothing failed or suspended.
        const record = home.lifecycle().filter((r) => r.event === "session_db_recovery").at(-1)
        expect(record, gw.describe()).toMatchObject({
          previous_life_crashed: true,
          integrity: "ok",
          turns_interrupted: 1,
          turns_resume_pending: 0,
          turns_failed: 0,
          sessions_suspended: []
        })
        const live = await showSession(sb, home, sessionId!)
        expect(live.session.status, "the session stays active").toBe("active")
        expect(live.messages.filter((m) => m.role === "user").map((m) => m.turnStatus)).toEqual(Array(life - 1).fill("interrupted"))
      }
      const text = `dave's poison ${life}`
      let acknowledged!: (id: string | undefined) => void
      const firstByte = new Promise<string | undefined>((resolve) => (acknowledged = resolve))
      const pending = sendChat(port, { text, user: "dave", stream: true, timeoutMs: 30_000 }, ({ sessionId: id }) => acknowledged(id))
      const acked = await Promise.race([firstByte, pending.then((o) => ({ failed: o }))])
      if (typeof acked !== "string") throw new Error(`no first byte: ${JSON.stringify(acked)}\n${gw.describe()}`)
      // The inbound message is committed (first byte) and its turn is running in the gateway.
      const running = await showSession(sb, home, acked)
      sessionId ??= running.session.id
      expect(running.session.id).toBe(sessionId)
      expect(running.messages.at(-1)).toMatchObject({ role: "user", content: text, turnStatus: "running" })
      killed.push({ text, turnId: running.messages.at(-1)!.turnId ?? undefined, sessionId })
      gw.signal("SIGKILL")
      expect(await gw.waitExit()).toEqual({ code: null, signal: "SIGKILL" })
      const outcome = await pending
      expect(outcome.firstByte).toBe(true)
      expect(outcome.complete).toBe(false)
    }

    // A fourth life, with an agent that answers at once: dave's session takes new turns.
    fs.writeFileSync(home.config, defaultConfig())
    const gw = sb.run(home, {}, "life 4")
    const port = await gw.waitRunning(startTimeoutMs)
    expect(home.lifecycle().filter((r) => r.event === "session_db_recovery").at(-1)).toMatchObject({
      turns_interrupted: 1,
      turns_failed: 0,
      sessions_suspended: []
    })
    const after = await ok(port, { text: "dave is back", user: "dave" })
    expect(after.sessionId).toBe(sessionId)
    await stop(sb, home, gw)

    const db = await readDb(home.dir)
    const turns = db.turns.filter((t) => t.sessionId === sessionId)
    expect(turns.map((t) => [t.id, t.status, t.interruptedLives])).toEqual([
      ...killed.map((k) => [k.turnId, "interrupted", 1]),
      [after.turnId, "completed", 0]
    ])
    for (const t of turns.slice(0, 3)) expect(t.reason).toBe("gateway died without shutting down")
    expect(db.sessions.find((s) => s.id === sessionId)).toMatchObject({ status: "active", messageCount: 5 })
    expect(conversation(db.transcripts.get(sessionId!)!).map(([, role, content]) => `${role}: ${content}`)).toEqual([
      ...killed.map((k) => `user: ${k.text}`),
      "user: dave is back",
      "assistant: dave is back"
    ])
  }, testTimeoutMs)

  it("a suspended session (the breaker's outcome, set by hand) refuses HTTP turns; other sessions go on", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const { frank, next } = await withSuspendedSession(sb, home)
    const port = await next.waitRunning(startTimeoutMs)
    for (const stream of [false, true]) {
      const refused = await sendChat(port, { text: `frank refused ${stream ? "streamed" : "plain"}`, user: "frank", stream })
      expect(refused.status, JSON.stringify(refused)).not.toBe(200)
      expect(refused.firstByte && refused.status === 200).toBe(false)
      const message = (refused.body as { error?: { message?: string } }).error?.message ?? ""
      expect(message).toContain(frank.sessionId)
      expect(message).toContain("suspended")
    }
    const grace = await ok(port, { text: "grace is fine", user: "grace" })
    expect(grace.sessionId).not.toBe(frank.sessionId)
    const shown = await showSession(sb, home, frank.sessionId)
    expect(shown.session.status).toBe("suspended")
    expect(conversation(shown).map(([, , content]) => content), "a refused message is not stored").toEqual(["frank before", "frank before"])

    // The operator lets it go on, through the live gateway.
    const reactivated = await cliJson<{ id: string; status: string }>(sb, ["gateway", "sessions", "reactivate", frank.sessionId, "--json", "--home", home.dir])
    expect(reactivated).toMatchObject({ id: frank.sessionId, status: "active" })
    const after = await ok(port, { text: "frank after", user: "frank" })
    expect(after.sessionId).toBe(frank.sessionId)
    const unknown = await sb.cli(["gateway", "sessions", "reactivate", "no-such-session", "--home", home.dir])
    expect(unknown.code, unknown.stdout + unknown.stderr).not.toBe(0)
    expect(unknown.stderr).toContain("no session no-such-session")
    await stop(sb, home, next)
  }, testTimeoutMs)

  // A message refused before it was recorded has no turn and no session id to hand back: 409
  // session_suspended, and no X-Hermes-Session header a client could send back.
  it("a message to a suspended session is refused with 409 and no session header", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const { frank, next } = await withSuspendedSession(sb, home)
    const refused = await sendChat(await next.waitRunning(startTimeoutMs), { text: "frank refused", user: "frank" })
    await stop(sb, home, next)
    expect(refused.status).toBe(409)
    expect(refused.sessionId, `X-Hermes-Session: ${refused.sessionId}`).toBeUndefined()

    // With no gateway running the CLI opens the database itself; the next gateway takes frank again.
    const reactivated = await sb.cli(["gateway", "sessions", "reactivate", frank.sessionId, "--home", home.dir])
    expect(reactivated.code, reactivated.stdout + reactivated.stderr).toBe(0)
    expect(reactivated.stdout).toContain("is active")
    const third = sb.run(home, {}, "after reactivation")
    const again = await ok(await third.waitRunning(startTimeoutMs), { text: "frank again", user: "frank" })
    expect(again.sessionId).toBe(frank.sessionId)
    await stop(sb, home, third)
  }, testTimeoutMs)

  it("a corrupt state.db is moved aside with its bytes, named in an error, and replaced by a fresh one", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)
    await ok(port, { text: "before the damage", user: "erin" })
    await stop(sb, home, gw)

    const dbFile = dbFileOf(home.dir)
    const garbage = Buffer.from("this is not an SQLite database, it is garbage; ".repeat(200))
    fs.writeFileSync(dbFile, garbage)

    // Without a gateway the CLI reports it and leaves the file alone.
    const offline = await sb.cli(["gateway", "sessions", "--home", home.dir])
    expect(offline.code).not.toBe(0)
    expect(offline.stderr).toContain(dbFile)
    expect(offline.stderr).toMatch(/corrupt/)
    expect(fs.readFileSync(dbFile)).toEqual(garbage)

    const next = sb.run(home, {}, "after the damage")
    const port2 = await next.waitRunning(startTimeoutMs)
    const aside = fs.readdirSync(home.dir).filter((f) => /^state\.db\.corrupt-/.test(f))
    expect(aside, next.describe()).toHaveLength(1)
    const movedTo = path.join(home.dir, aside[0]!)
    expect(path.basename(movedTo)).toMatch(/^state\.db\.corrupt-\d{8}T\d{6}\.\d{3}Z$/)
    expect(fs.readFileSync(movedTo), "the bytes are preserved").toEqual(garbage)

    const errorLine = next.stderr.split("\n").find((l) => /level=ERROR/.test(l) && l.includes(dbFile))
    expect(errorLine, next.describe()).toBeDefined()
    expect(errorLine).toContain("corrupt")
    expect(errorLine).toContain(movedTo)

    const record = home.lifecycle().filter((r) => r.event === "session_db_recovery").at(-1)
    expect(record).toMatchObject({
      file: dbFile,
      previous_life_crashed: false,
      moved_aside: { moved_to: movedTo, files: [movedTo] }
    })
    expect(record!.integrity).toMatch(/^failed: file is not a database/)
    expect(record!.moved_aside.reason).toMatch(/file is not a database/)

    // A fresh database: nothing from before, and it takes turns.
    expect(await listSessions(sb, home)).toEqual([])
    const fresh = await ok(port2, { text: "after the damage", user: "erin" })
    expect(await listSessions(sb, home)).toMatchObject([{ id: fresh.sessionId, chatKey: "erin", messageCount: 2 }])
    await stop(sb, home, next)
    expect(fs.readFileSync(movedTo)).toEqual(garbage)
  }, testTimeoutMs)
})
