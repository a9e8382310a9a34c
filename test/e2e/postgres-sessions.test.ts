// sessions.engine: postgres end to end: the built gateway keeps its sessions in the PostgreSQL that
// .ci/run starts (POSTGRES_TEST_URL), continues a conversation across a planned stop and a
// start, and exits with the contract's code for each start-up fault, never showing the password in
// anything an operator or a test can read (logs, state file, lifecycle log, status, report).
import * as fs from "node:fs"
import * as path from "node:path"
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import { beforeAll, describe, it, type TestContext } from "vitest"
import type { SessionTranscript } from "../../src/sessions/SessionDb.js"
import { filesUnder } from "./fixtures/home-texts.js"
import { sendChat } from "./fixtures/sessions-client.js"
import { assertBuilt, type Home, Sandbox, waitFor } from "./harness.js"
import { databaseFor } from "./fixtures/scratch-database.js"
import { CuttableLink } from "./fixtures/CuttableLink.js"
import { pgRawQuery, postgresUrl, urlFor } from "../unit/sessions/postgres.js"
import { latestSchemaVersion } from "../../src/sessions/Migrations.js"

beforeAll(assertBuilt)

const startTimeoutMs = 30_000
const password = postgresUrl === undefined ? `pw-${randomBytes(9).toString("hex")}` : decodeURIComponent(new URL(postgresUrl).password)
const skipped = postgresUrl === undefined ? " (skipped: POSTGRES_TEST_URL is unset; .ci/run starts a PostgreSQL and sets it)" : ""

const postgresConfig = ["sessions:", "  engine: postgres", "adapters:", "  http:", "    port: 0", ""].join("\n")


const expectNoSecret = (ctx: TestContext, texts: ReadonlyArray<readonly [where: string, text: string]>) => {
  for (const [where, text] of texts) {
    ctx.expect(text.includes(password), `the password appears in ${where}`).toBe(false)
    ctx.expect(text.includes("postgresql://"), `a connection URL appears in ${where}`).toBe(false)
  }
}

const chatOk = async (port: number, text: string, user: string) => {
  const outcome = await sendChat(port, { text, user })
  if (outcome.status !== 200 || outcome.reply !== text || outcome.sessionId === undefined) {
    throw new Error(`chat ${text} failed: ${JSON.stringify(outcome)}`)
  }
  return outcome as typeof outcome & { sessionId: string }
}

const stopPlanned = async (ctx: TestContext, sb: Sandbox, home: Home, gw: ReturnType<Sandbox["run"]>) => {
  const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
  ctx.expect(stop.code, stop.stderr).toBe(0)
  ctx.expect((await gw.waitExit()).code).toBe(0)
  return stop
}

// Needs no server: nothing listens on port 1.
describe("sessions.engine postgres, server unreachable (built gateway)", () => {
  it("an unreachable server exits 69 naming host and port, never the password", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(postgresConfig)
    const gw = sb.run(home, { DATABASE_URL: `postgresql://hermes:${password}@127.0.0.1:1/sessions` })
    const exit = await gw.waitExit(startTimeoutMs)
    expect(exit.code, gw.describe()).toBe(69)
    expect(gw.stderr).toContain("cannot reach PostgreSQL at 127.0.0.1:1")
    expectNoSecret(ctx, [["the log", gw.stderr + gw.stdout], ...filesUnder(home.dir)])
  }, 60_000)
})

describe.skipIf(postgresUrl === undefined)(`sessions.engine postgres (built gateway, real PostgreSQL)${skipped}`, () => {
  it("a conversation continues across a planned stop and a start; the password is nowhere to be read", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const database = await databaseFor(ctx)
    const env = { DATABASE_URL: urlFor(database) }
    const home = sb.home(postgresConfig)

    const first = sb.run(home, env, "first life")
    const port1 = await first.waitRunning(startTimeoutMs)
    await first.waitLog(/session db engine=postgresql database=hermes_test@127\.0\.0\.1:\d+\/hermes_t_/)
    const before = await chatOk(port1, "before the stop", "carol")
    const stop1 = await stopPlanned(ctx, sb, home, first)

    const second = sb.run(home, env, "second life")
    const port2 = await second.waitRunning(startTimeoutMs)
    const after = await chatOk(port2, "after the start", "carol")
    expect(after.sessionId).toBe(before.sessionId)
    const shown = await sb.cli(["gateway", "sessions", "show", before.sessionId, "--json", "--home", home.dir])
    expect(shown.code, shown.stderr).toBe(0)
    const transcript = JSON.parse(shown.stdout) as SessionTranscript
    expect(transcript.messages.map((m) => [m.seq, m.role, m.content])).toEqual([
      [1, "user", "before the stop"],
      [2, "assistant", "before the stop"],
      [3, "user", "after the start"],
      [4, "assistant", "after the start"]
    ])
    const status = await sb.cli(["gateway", "status", "--json", "--home", home.dir])
    const stop2 = await stopPlanned(ctx, sb, home, second)
    const report = await sb.cli(["gateway", "report", "--json", "--home", home.dir])

    // The database holds it, not a SQLite file in the home.
    const [rows] = await Effect.runPromise(pgRawQuery(database, [["SELECT COUNT(*) AS n FROM messages"]]))
    expect(rows![0]!.n).toBe(4)
    expect(fs.existsSync(path.join(home.dir, "state.db"))).toBe(false)

    expectNoSecret(ctx, [
      ["the first life's log", first.stderr + first.stdout],
      ["the second life's log", second.stderr + second.stdout],
      ["status --json", status.stdout + status.stderr],
      ["report --json", report.stdout + report.stderr],
      ["stop", stop1.stdout + stop1.stderr + stop2.stdout + stop2.stderr],
      ...filesUnder(home.dir)
    ])
  }, 120_000)

  it("wrong credentials exit 78 naming the problem, never the password", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(postgresConfig)
    const wrong = `${password}-wrong`
    const gw = sb.run(home, { DATABASE_URL: urlFor("postgres", { password: wrong }) })
    const exit = await gw.waitExit(startTimeoutMs)
    expect(exit.code, gw.describe()).toBe(78)
    expect(gw.stderr).toMatch(/password authentication failed for user "hermes_test" \(wrong password for this user\)/)
    expect(gw.stderr.includes(wrong)).toBe(false)
    expectNoSecret(ctx, [["the log", gw.stderr + gw.stdout], ...filesUnder(home.dir)])
  }, 60_000)

  it("a schema newer than this binary exits 78 with both versions", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const database = await databaseFor(ctx)
    await Effect.runPromise(pgRawQuery(database, [
      ["CREATE TABLE schema_migrations (migration_id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL)"],
      ["INSERT INTO schema_migrations (migration_id, name) VALUES (?, ?)", [9, "from_a_newer_gateway"]]
    ]))
    const home = sb.home(postgresConfig)
    const gw = sb.run(home, { DATABASE_URL: urlFor(database) })
    const exit = await gw.waitExit(startTimeoutMs)
    expect(exit.code, gw.describe()).toBe(78)
    expect(gw.stderr).toMatch(new RegExp(`schema version 9, newer than this gateway knows \\(${latestSchemaVersion}\\)`))
  }, 60_000)

  it("an unset url_env variable exits 78 naming it", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const name = `HERMES_TEST_PG_${randomBytes(3).toString("hex").toUpperCase()}`
    const home = sb.home(postgresConfig.replace("  engine: postgres\n", `  engine: postgres\n  postgres:\n    url_env: ${name}\n`))
    const gw = sb.run(home, { DATABASE_URL: urlFor("postgres") })
    const exit = await gw.waitExit(startTimeoutMs)
    expect(exit.code, gw.describe()).toBe(78)
    expect(gw.stderr).toContain(`sessions.postgres.url_env: the environment variable ${name} is not set`)
  }, 60_000)
})

describe.skipIf(postgresUrl === undefined)(`sessions.engine postgres: the database lost while running${skipped}`, () => {
  it("new turns get 503 with a clear log line while it is away, the gateway goes on when it is back, and a planned stop exits 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const database = await databaseFor(ctx)
    const server = new URL(postgresUrl!)
    const link = await CuttableLink.open({ host: server.hostname, port: Number(server.port) })
    ctx.onTestFinished(() => link.close())
    const viaLink = new URL(urlFor(database))
    viaLink.port = String(link.port)
    const home = sb.home(postgresConfig)
    const gw = sb.run(home, { DATABASE_URL: viaLink.toString() })
    const port = await gw.waitRunning(startTimeoutMs)
    const before = await chatOk(port, "while the database is there", "dave")

    await link.cut()
    const refused = await sendChat(port, { text: "while it is away", user: "dave" })
    expect(refused.status, JSON.stringify(refused)).toBe(503)
    await gw.waitLog(/level=ERROR message="session database hermes_test@127\.0\.0\.1:\d+\/hermes_t_\w+ lost: .*; new turns are refused \(HTTP 503\) until it is back; reconnecting with backoff"/)
    // While it is known lost, a turn is refused at once, saying so, without a connection attempt of its own.
    const again = await sendChat(port, { text: "still away", user: "dave" })
    expect(again.status).toBe(503)
    await gw.waitLog(/message refused \(storage\): session database hermes_test@127\.0\.0\.1:\d+\/hermes_t_\w+ is unreachable since \S+ \(.*\); reconnecting/)
    // The state file and `gateway status` show the storage problem (never the URL or password).
    const lost = await waitFor("the state file shows the storage problem", () => {
      const storage = home.readState()?.storage
      return storage?.state === "unavailable" ? storage : undefined
    }, { context: () => gw.describe() })
    expect(Date.parse(lost.since)).not.toBeNaN()
    expect(lost.problem).toEqual(expect.any(String))
    expect(home.readState()?.replica_id).toMatch(/^[^:]+:[0-9a-f]{8}$/)
    const statusWhileLost = await sb.cli(["gateway", "status", "--home", home.dir])
    expect(statusWhileLost.stdout).toContain(`session database: unavailable since ${lost.since}`)
    expectNoSecret(ctx, [["status while lost", statusWhileLost.stdout + statusWhileLost.stderr]])

    await link.restore()
    await gw.waitLog(/session database hermes_test@127\.0\.0\.1:\d+\/hermes_t_\w+ is back after \d+\.\ds; new turns are accepted again/)
    const after = await chatOk(port, "it is back", "dave")
    expect(after.sessionId).toBe(before.sessionId)
    await waitFor("the state file shows the database available again", () => home.readState()?.storage?.state === "available", {
      context: () => gw.describe()
    })

    // A planned stop while the database is away again still ends in order, with exit 0.
    await link.cut()
    await stopPlanned(ctx, sb, home, gw)
    expectNoSecret(ctx, [["the log", gw.stderr + gw.stdout], ...filesUnder(home.dir)])
  }, 120_000)
})
