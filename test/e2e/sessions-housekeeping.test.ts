// Sessions housekeeping end to end (issue "Operators' experience", item 8): `sessions prune
// --older-than` with no gateway (the CLI opens the database) and with one running (it answers over
// its control socket), `sessions show` by the key a client sent, and sessions.retention applied by
// the running gateway shortly after start-up.
import * as Effect from "effect/Effect"
import { beforeAll, describe, it } from "vitest"
import type { SessionSummary, SessionTranscript } from "../../src/sessions/SessionDb.js"
import { resolveEngine } from "../../src/sessions/SqliteEngine.js"
import { openDriver } from "../../src/sessions/SqliteEngine.js"
import { dbFileOf, sendChat } from "./fixtures/sessions-client.js"
import { assertBuilt, defaultConfig, type Gateway, type Home, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

const startTimeoutMs = 30_000
const testTimeoutMs = 150_000
const longAgo = "2020-01-01T00:00:00.000Z"

/** Statements on state.db while no gateway holds it (the wasm engine's lock is exclusive). */
const onDatabase = async (homeDir: string, statements: ReadonlyArray<readonly [string, ReadonlyArray<string>]>) => {
  const driver = await Effect.runPromise(openDriver(resolveEngine("auto"), dbFileOf(homeDir), { busyTimeoutMs: 1000 }))
  try {
    for (const [sql, params] of statements) driver.query(sql, [...params])
  } finally {
    driver.close()
  }
}

/** The sessions' last activity moved back to 2020, as if nobody had written in them since. */
const age = (homeDir: string, ids: ReadonlyArray<string>) =>
  onDatabase(homeDir, ids.map((id) => ["UPDATE sessions SET updated_at = ? WHERE id = ?", [longAgo, id]] as const))

const chat = async (port: number, request: { text: string; user?: string; session?: string }): Promise<string> => {
  const outcome = await sendChat(port, request)
  if (outcome.status !== 200 || outcome.sessionId === undefined) throw new Error(`chat failed: ${JSON.stringify(outcome)}`)
  return outcome.sessionId
}

const stop = async (sb: Sandbox, home: Home, gw: Gateway) => {
  const result = await sb.cli(["gateway", "stop", "--home", home.dir])
  if (result.code !== 0) throw new Error(`hermes gateway stop exited ${result.code}: ${result.stdout}${result.stderr}`)
  const exit = await gw.waitExit()
  if (exit.code !== 0) throw new Error(`gateway exited ${JSON.stringify(exit)}\n${gw.describe()}`)
}

describe.concurrent("sessions housekeeping", () => {
  it("prune --older-than without and with a running gateway; show by the client's key", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const sessionsOf = async () => {
      const result = await sb.cli(["gateway", "sessions", "--json", "--home", home.dir])
      expect(result.code, result.stderr).toBe(0)
      return (JSON.parse(result.stdout) as Array<SessionSummary>).map((s) => s.chatKey).sort()
    }

    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)
    const alice = await chat(port, { text: "alice here", user: "alice" })
    const keyless = await chat(port, { text: "no key" })
    const bob = await chat(port, { text: "bob here", user: "bob" })
    await chat(port, { text: "by header", session: "conv-42" })

    // --- show by key, gateway running ------------------------------------------------------
    const byUser = await sb.cli(["gateway", "sessions", "show", "alice", "--json", "--home", home.dir])
    expect(byUser.code, byUser.stderr).toBe(0)
    expect((JSON.parse(byUser.stdout) as SessionTranscript).session).toMatchObject({ id: alice, chatKey: "alice" })
    const byHeader = await sb.cli(["gateway", "sessions", "show", "conv-42", "--home", home.dir])
    expect(byHeader.code, byHeader.stderr).toBe(0)
    expect(byHeader.stdout).toContain("(http, key conv-42, active, 2 messages)")
    const byId = await sb.cli(["gateway", "sessions", "show", keyless, "--json", "--home", home.dir])
    expect((JSON.parse(byId.stdout) as SessionTranscript).session.id).toBe(keyless)

    // --- bad ages are refused before anything is asked --------------------------------------
    for (const bad of ["0", "1h", "banana", "3651d"]) {
      const refused = await sb.cli(["gateway", "sessions", "prune", "--older-than", bad, "--home", home.dir])
      expect(refused.code, `--older-than ${bad}`).toBe(64)
      expect(refused.stderr).toContain("--older-than")
      expect(refused.stderr.trim().split("\n"), "one line").toHaveLength(1)
    }

    // --- no gateway: the CLI opens the database ---------------------------------------------
    await stop(sb, home, gw)
    await age(home.dir, [alice, keyless])
    // A Telegram chat whose id happens to be a key the HTTP API also used.
    const now = new Date().toISOString()
    await onDatabase(home.dir, [[
      "INSERT INTO sessions (id, platform, chat_key, user, created_at, updated_at, status) VALUES (?, 'telegram', 'conv-42', NULL, ?, ?, 'active')",
      ["tg-session", now, now]
    ]])
    const offline = await sb.cli(["gateway", "sessions", "prune", "--older-than", "30d", "--json", "--home", home.dir])
    expect(offline.code, offline.stderr).toBe(0)
    const offlineReport = JSON.parse(offline.stdout)
    expect(offlineReport).toMatchObject({ sessions: 2, turns: 2, messages: 4 })
    expect(Date.parse(offlineReport.cutoff)).toBeGreaterThan(Date.parse(longAgo))
    expect(await sessionsOf()).toEqual(["bob", "conv-42", "conv-42"])

    const ambiguous = await sb.cli(["gateway", "sessions", "show", "conv-42", "--home", home.dir])
    expect(ambiguous.code).toBe(1)
    expect(ambiguous.stdout).toContain("\thttp\tconv-42\t")
    expect(ambiguous.stdout).toContain("tg-session\ttelegram\tconv-42\t")
    expect(ambiguous.stderr).toContain("names 2 sessions")

    // --- gateway running: it prunes and answers over its control socket ----------------------
    await age(home.dir, [bob])
    const next = sb.run(home, {}, "second life")
    await next.waitRunning(startTimeoutMs)
    const live = await sb.cli(["gateway", "sessions", "prune", "--older-than", "1d", "--home", home.dir])
    expect(live.code, live.stderr).toBe(0)
    expect(live.stdout).toMatch(/^removed 1 session\(s\), 1 turn\(s\) and 2 message\(s\) last active before \d{4}-/)
    expect(await sessionsOf()).toEqual(["conv-42", "conv-42"])
    const gone = await sb.cli(["gateway", "sessions", "show", "alice", "--home", home.dir])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain("no session alice")
    await stop(sb, home, next)

    // --- a home without a database has nothing to prune -------------------------------------
    const empty = sb.home("")
    const none = await sb.cli(["gateway", "sessions", "prune", "--older-than", "1d", "--json", "--home", empty.dir])
    expect(none.code, none.stderr).toBe(0)
    expect(JSON.parse(none.stdout)).toEqual({ sessions: 0, turns: 0, messages: 0, cutoff: null })
  }, testTimeoutMs)

  it("a session whose turn a killed gateway left running is kept by prune, however old", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(defaultConfig({ delay: "120s" }))
    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)
    // A streamed reply's first byte comes once the inbound message and its running turn are committed.
    let sessionId: string | undefined
    const committed = new Promise<void>((resolve) => {
      void sendChat(port, { text: "slow", user: "slow", stream: true }, (outcome) => {
        sessionId = outcome.sessionId
        resolve()
      })
    })
    await committed
    gw.signal("SIGKILL")
    await gw.waitExit()
    expect(sessionId).toBeDefined()
    await age(home.dir, [sessionId!])

    const pruned = await sb.cli(["gateway", "sessions", "prune", "--older-than", "1d", "--json", "--home", home.dir])
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(JSON.parse(pruned.stdout)).toMatchObject({ sessions: 0, turns: 0, messages: 0 })
    const shown = await sb.cli(["gateway", "sessions", "show", "slow", "--json", "--home", home.dir])
    expect(shown.code, shown.stderr).toBe(0)
    expect((JSON.parse(shown.stdout) as SessionTranscript).messages.map((m) => m.turnStatus)).toEqual(["running"])
  }, testTimeoutMs)

  it("sessions.retention: the running gateway prunes shortly after start-up and logs it", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(defaultConfig() + "sessions:\n  retention: 7d\n")
    const gw = sb.run(home)
    const port = await gw.waitRunning(startTimeoutMs)
    const old = await chat(port, { text: "old", user: "old" })
    await chat(port, { text: "recent", user: "recent" })
    await stop(sb, home, gw)
    await age(home.dir, [old])

    const next = sb.run(home, {}, "with retention")
    await next.waitRunning(startTimeoutMs)
    await next.waitLog(/sessions\.retention \([^)]*\): removed 1 session\(s\), 1 turn\(s\) and 2 message\(s\)/, 60_000)
    const listed = await sb.cli(["gateway", "sessions", "--json", "--home", home.dir])
    expect((JSON.parse(listed.stdout) as Array<SessionSummary>).map((s) => s.chatKey)).toEqual(["recent"])
    await stop(sb, home, next)
  }, testTimeoutMs)
})
