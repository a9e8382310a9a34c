// Two replicas (two homes, two built gateways) sharing one PostgreSQL database: either continues
// an HTTP session the other began; a replica SIGKILLed with a turn in flight keeps that turn until
// its lease expires (the other replica looks every second and leaves it alone), then the other
// recovers it; the killed replica, started again on its home, recovers nothing a second time.
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import { beforeAll, describe, it, type TestContext } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import { filesUnder } from "./fixtures/home-texts.js"
import { sendChat } from "./fixtures/sessions-client.js"
import { assertBuilt, type Home, Sandbox, waitFor } from "./harness.js"
import { databaseFor } from "./fixtures/scratch-database.js"
import { pgRawQuery, postgresUrl, urlFor } from "../unit/sessions/postgres.js"

beforeAll(assertBuilt)

const startTimeoutMs = 30_000
const skipped = postgresUrl === undefined ? " (skipped: POSTGRES_TEST_URL is unset; .ci/run starts a PostgreSQL and sets it)" : ""
const password = postgresUrl === undefined ? `pw-${randomBytes(9).toString("hex")}` : decodeURIComponent(new URL(postgresUrl).password)

/** A short lease (long enough that a loaded machine renews it in time), so the test sees it expire; the other replica looks every second. */
const replicaConfig = (id: string, model: FakeModel, lease = "6s") =>
  [
    "sessions:",
    "  engine: postgres",
    "  postgres:",
    `    replica_id: ${id}`,
    `    lease: ${lease}`,
    "    lease_renew_every: 1s",
    "adapters:",
    "  http:",
    "    port: 0",
    "agent:",
    "  kind: openai",
    "  openai:",
    `    base_url: ${JSON.stringify(model.baseUrl)}`,
    "    model: fake-model",
    ""
  ].join("\n")

const query = (database: string, sql: string, params: ReadonlyArray<string | number> = []) =>
  Effect.runPromise(pgRawQuery(database, [[sql, params]])).then(([rows]) => rows!)

const chatOk = async (port: number, text: string, user: string) => {
  const outcome = await sendChat(port, { text, user })
  if (outcome.status !== 200 || outcome.reply !== `answer: ${text}` || outcome.sessionId === undefined) {
    throw new Error(`chat ${text} failed: ${JSON.stringify(outcome)}`)
  }
  return outcome as typeof outcome & { sessionId: string }
}

const stopPlanned = async (ctx: TestContext, sb: Sandbox, home: Home, gw: ReturnType<Sandbox["run"]>) => {
  const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
  ctx.expect(stop.code, stop.stderr).toBe(0)
  ctx.expect((await gw.waitExit()).code, gw.describe()).toBe(0)
}

interface Observation {
  readonly status: string
  readonly ended_at: string | null
  readonly interrupted_lives: number
  readonly reason: string | null
  readonly expires_at_ms: number
  readonly now_ms: number
}

/** The turn and its owner's lease, with the database's clock. */
const observe = async (database: string, turnId: string): Promise<Observation> => {
  const [row] = await query(
    database,
    `SELECT t.status, t.ended_at, t.interrupted_lives, t.reason, l.expires_at_ms,
            (extract(epoch from clock_timestamp()) * 1000)::bigint AS now_ms
     FROM turns t JOIN replica_leases l ON l.replica_id = t.owner WHERE t.id = ?`,
    [turnId]
  )
  return row as unknown as Observation
}

// Needs no server: the replica settings are checked before anything connects.
describe("replica settings (built gateway)", () => {
  it.for<[label: string, setting: string, line: string]>([
    ["a replica_id with a space", "replica_id: \"a b\"", "sessions.postgres.replica_id: must be 1 to 128 letters, digits or . _ : @ - beginning with a letter or digit, got \"a b\""],
    ["a renewal longer than half the lease", "lease: 4s\n    lease_renew_every: 3s", "sessions.postgres.lease_renew_every: must be at most half of sessions.postgres.lease (4s), got 3s"]
  ])("%s exits 78 with one line naming the key", { timeout: 60_000 }, async ([, setting, line], ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(["sessions:", "  engine: postgres", "  postgres:", `    ${setting}`, "adapters:", "  http:", "    port: 0", ""].join("\n"))
    const gw = sb.run(home, { DATABASE_URL: "postgresql://hermes@127.0.0.1:1/none" })
    const exit = await gw.waitExit(startTimeoutMs)
    expect(exit.code, gw.describe()).toBe(78)
    expect(gw.stderr).toContain(line)
    expect(gw.stderr).not.toMatch(/\n\s+at /)
  })
})

describe.skipIf(postgresUrl === undefined)(`replicas sharing one PostgreSQL database (built gateways)${skipped}`, () => {
  it("continue each other's sessions; a killed replica's turn is recovered by the other only after its lease expired, and never twice", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    const database = await databaseFor(ctx)
    const env = { DATABASE_URL: urlFor(database) }
    const homeA = sb.home(replicaConfig("replica-a", model))
    const homeB = sb.home(replicaConfig("replica-b", model))
    const a = sb.run(homeA, env, "replica A")
    const b = sb.run(homeB, env, "replica B")
    const [portA, portB] = await Promise.all([a.waitRunning(startTimeoutMs), b.waitRunning(startTimeoutMs)])

    // (a) One HTTP session, continued on either replica.
    const first = await chatOk(portA, "first, on a", "carol")
    const second = await chatOk(portB, "second, on b", "carol")
    expect(second.sessionId).toBe(first.sessionId)
    const third = await sendChat(portA, { text: "third, on a", session: first.sessionId })
    expect(third.sessionId).toBe(first.sessionId)
    const messages = await query(database, "SELECT seq, role, content FROM messages WHERE session_id = ? ORDER BY seq", [first.sessionId])
    expect(messages.map((m) => [m.seq, m.role, m.content])).toEqual([
      [1, "user", "first, on a"],
      [2, "assistant", "answer: first, on a"],
      [3, "user", "second, on b"],
      [4, "assistant", "answer: second, on b"],
      [5, "user", "third, on a"],
      [6, "assistant", "answer: third, on a"]
    ])
    expect(homeA.readState()).toMatchObject({ replica_id: "replica-a", storage: { state: "available", since: null, problem: null } })
    const status = await sb.cli(["gateway", "status", "--home", homeB.dir])
    expect(status.stdout).toContain("replica: replica-b")
    expect(status.stdout).toContain("session database: available")

    // (b) A holds a turn in flight (the model answers only when released; it never is) and is SIGKILLed.
    model.hold("held on a")
    const held = sendChat(portA, { text: "held on a", user: "dave" })
    await model.waitForRequest("held on a")
    const [running] = await query(database, "SELECT id FROM turns WHERE owner = ? AND status = 'running'", ["replica-a"])
    const turnId = String(running!.id)
    a.signal("SIGKILL")
    await a.waitExit()
    expect((await held).complete).toBe(false)

    // B looks every second; until A's lease (6s after its last renewal) is over, the turn stays A's.
    const seen: Array<Observation> = []
    const recovered = await waitFor("replica B recovers A's turn", async () => {
      const now = await observe(database, turnId)
      seen.push(now)
      return now.status !== "running" ? now : undefined
    }, { timeoutMs: 30_000, intervalMs: 100, context: () => b.describe() })
    const expiresAt = Number(recovered.expires_at_ms)
    for (const o of seen) if (Number(o.now_ms) <= Number(o.expires_at_ms)) expect(o.status).toBe("running")
    expect(seen.some((o) => o.status === "running" && Number(o.now_ms) <= Number(o.expires_at_ms))).toBe(true)
    // Ended by B after the lease's end (both clocks are this machine's here).
    expect(Date.parse(recovered.ended_at!)).toBeGreaterThanOrEqual(expiresAt)
    expect(recovered.status).toBe("interrupted")
    expect(Number(recovered.interrupted_lives)).toBe(1)
    expect(recovered.reason).toBe("replica replica-a stopped without recording this turn's end (its lease expired); recovered by replica replica-b")
    await b.waitLog(/replica replica-b recovered the running turns of replica replica-a \(its lease expired\): interrupted=1 resume_pending=0 failed=0/)

    // (c) A again, on its home: its previous life died, but the turn was recovered already: nothing twice.
    const again = sb.run(homeA, env, "replica A, second life")
    const portA2 = await again.waitRunning(startTimeoutMs)
    await again.waitLog(/session db recovery crashed=true interrupted=0 resume_pending=0 failed=0/)
    const after = await observe(database, turnId)
    expect([after.status, Number(after.interrupted_lives), after.reason, after.ended_at]).toEqual([
      "interrupted", 1, recovered.reason, recovered.ended_at
    ])
    const fourth = await chatOk(portA2, "fourth, on a again", "carol")
    expect(fourth.sessionId).toBe(first.sessionId)
    const takeovers = (text: string) => text.split("\n").filter((line) => line.includes("recovered the running turns of replica replica-a"))
    expect(takeovers(b.stderr + b.stdout)).toHaveLength(1)
    expect(takeovers(again.stderr + again.stdout)).toHaveLength(0)

    // Planned stops: exit 0, and the lease is given back at once.
    await stopPlanned(ctx, sb, homeA, again)
    const [lease] = await query(database, "SELECT expires_at_ms, (extract(epoch from clock_timestamp()) * 1000)::bigint AS now_ms FROM replica_leases WHERE replica_id = ?", ["replica-a"])
    expect(Number(lease!.expires_at_ms)).toBeLessThanOrEqual(Number(lease!.now_ms))
    await stopPlanned(ctx, sb, homeB, b)

    for (const [where, text] of [["A", a.stderr + a.stdout + again.stderr + again.stdout], ["B", b.stderr + b.stdout], ...[homeA, homeB].flatMap((h) => filesUnder(h.dir))]) {
      expect(text.includes(password), `the password appears in ${where}`).toBe(false)
    }
  }, 180_000)

  it("a replica killed and started again before its lease expired recovers its own turn; the other never touches it", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    const database = await databaseFor(ctx)
    const env = { DATABASE_URL: urlFor(database) }
    // A lease far longer than a restart: only A's own next life may end its turn.
    const homeA = sb.home(replicaConfig("replica-a", model, "10min"))
    const homeB = sb.home(replicaConfig("replica-b", model, "10min"))
    const a = sb.run(homeA, env, "replica A")
    const b = sb.run(homeB, env, "replica B")
    const [portA] = await Promise.all([a.waitRunning(startTimeoutMs), b.waitRunning(startTimeoutMs)])
    model.hold("held on a")
    const held = sendChat(portA, { text: "held on a", user: "erin" })
    await model.waitForRequest("held on a")
    const [running] = await query(database, "SELECT id FROM turns WHERE owner = ? AND status = 'running'", ["replica-a"])
    a.signal("SIGKILL")
    await a.waitExit()
    await held

    const again = sb.run(homeA, env, "replica A, second life")
    await again.waitRunning(startTimeoutMs)
    await again.waitLog(/session db recovery crashed=true interrupted=1 resume_pending=0 failed=0/)
    const [turn] = await query(database, "SELECT status, interrupted_lives, reason FROM turns WHERE id = ?", [String(running!.id)])
    expect([turn!.status, Number(turn!.interrupted_lives), turn!.reason]).toEqual(["interrupted", 1, "gateway died without shutting down"])
    await stopPlanned(ctx, sb, homeA, again)
    await stopPlanned(ctx, sb, homeB, b)
    expect(b.stderr + b.stdout).not.toContain("recovered the running turns of replica")
  }, 180_000)
})
