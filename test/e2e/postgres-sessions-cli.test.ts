// `hermes gateway sessions` with sessions.engine: postgres and this home's gateway stopped: the CLI
// reads the PostgreSQL database the config names (other replicas may be using it), never migrating
// it, never recovering a turn, never showing the password; a database it cannot use is one line.
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import { beforeAll, describe, it, type TestContext } from "vitest"
import type { SessionSummary, SessionTranscript } from "../../src/sessions/SessionDb.js"
import { sendChat } from "./fixtures/sessions-client.js"
import { assertBuilt, Sandbox } from "./harness.js"
import { databaseFor } from "./fixtures/scratch-database.js"
import { adminQuery, postgresUrl, urlFor } from "../unit/sessions/postgres.js"

beforeAll(assertBuilt)

const skipped = postgresUrl === undefined ? " (skipped: POSTGRES_TEST_URL is unset; .ci/run starts a PostgreSQL and sets it)" : ""
const password = postgresUrl === undefined ? "" : decodeURIComponent(new URL(postgresUrl).password)
const postgresConfig = ["sessions:", "  engine: postgres", "adapters:", "  http:", "    port: 0", ""].join("\n")

const noSecret = (ctx: TestContext, text: string, url: string) => {
  if (password !== "") ctx.expect(text.includes(password), "the password appears").toBe(false)
  ctx.expect(text.includes(url), "the URL appears").toBe(false)
}

describe.skipIf(postgresUrl === undefined).concurrent(`gateway sessions on PostgreSQL with no gateway running${skipped}`, () => {
  it("lists, shows and reactivates what a stopped replica recorded", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const database = await databaseFor(ctx)
    const url = urlFor(database)
    const home = sb.home(postgresConfig)
    const gw = sb.run(home, { DATABASE_URL: url })
    const port = await gw.waitRunning(30_000)
    const first = await sendChat(port, { text: "first words", user: "dora" })
    expect(first.status).toBe(200)
    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stderr).toBe(0)
    expect((await gw.waitExit()).code).toBe(0)

    const list = await sb.cli(["gateway", "sessions", "--json", "--home", home.dir], { DATABASE_URL: url })
    expect(list.code, list.stderr).toBe(0)
    noSecret(ctx, list.stdout + list.stderr, url)
    const sessions = JSON.parse(list.stdout) as ReadonlyArray<SessionSummary>
    expect(sessions.map((s) => [s.id, s.chatKey])).toEqual([[first.sessionId, "dora"]])

    const show = await sb.cli(["gateway", "sessions", "show", "dora", "--json", "--home", home.dir], { DATABASE_URL: url })
    expect(show.code, show.stderr).toBe(0)
    const transcript = JSON.parse(show.stdout) as SessionTranscript
    expect(transcript.messages.map((m) => [m.role, m.content])).toEqual([["user", "first words"], ["assistant", "first words"]])

    const reactivate = await sb.cli(["gateway", "sessions", "reactivate", first.sessionId!, "--home", home.dir], { DATABASE_URL: url })
    noSecret(ctx, reactivate.stdout + reactivate.stderr, url)
    expect(reactivate.code, reactivate.stdout + reactivate.stderr).toBe(0)
    const unknown = await sb.cli(["gateway", "sessions", "reactivate", "no-such-session", "--home", home.dir], { DATABASE_URL: url })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("no session no-such-session")
  })

  it("a database with no schema yet has no sessions, and the CLI does not create one", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const database = await databaseFor(ctx)
    const url = urlFor(database)
    const home = sb.home(postgresConfig)
    const list = await sb.cli(["gateway", "sessions", "--json", "--home", home.dir], { DATABASE_URL: url })
    expect(list.code, list.stderr).toBe(0)
    expect(JSON.parse(list.stdout)).toEqual([])
    const tables = await Effect.runPromise(adminQuery("SELECT to_regclass('schema_migrations')::text AS t", database))
    expect(tables[0]?.t ?? null).toBe(null)
  })

  it("an unreachable server or a wrong password: one line naming the problem, exit 1, no password", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(postgresConfig)
    const away = `postgresql://hermes:${password || "pw"}@127.0.0.1:1/sessions`
    const unreachable = await sb.cli(["gateway", "sessions", "--home", home.dir], { DATABASE_URL: away })
    expect(unreachable.code, unreachable.stderr).toBe(1)
    expect(unreachable.stderr.trim().split("\n")).toHaveLength(1)
    expect(unreachable.stderr).toContain("cannot reach PostgreSQL at 127.0.0.1:1")
    noSecret(ctx, unreachable.stdout + unreachable.stderr, away)

    const wrong = `wrong-${randomBytes(6).toString("hex")}`
    const refusedUrl = urlFor("postgres", { password: wrong })
    const refused = await sb.cli(["gateway", "sessions", "--home", home.dir], { DATABASE_URL: refusedUrl })
    expect(refused.code, refused.stderr).toBe(1)
    expect(refused.stderr).toMatch(/refused the session database: .*wrong password/)
    expect(refused.stderr.includes(wrong)).toBe(false)
  })
})
