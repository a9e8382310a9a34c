// `gateway doctor` with sessions.engine: postgres checks what `run` would meet at start-up, against
// the real PostgreSQL .ci/run starts (POSTGRES_TEST_URL): the server answering with these
// credentials, the schema version, and each fault named in one line without the password.
import * as net from "node:net"
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import { beforeAll, describe, it, type TestContext } from "vitest"
import { assertBuilt, Sandbox } from "./harness.js"
import { databaseFor } from "./fixtures/scratch-database.js"
import { adminQuery, postgresUrl, urlFor } from "../unit/sessions/postgres.js"

beforeAll(assertBuilt)

const skipped = postgresUrl === undefined ? " (skipped: POSTGRES_TEST_URL is unset; .ci/run starts a PostgreSQL and sets it)" : ""
const password = postgresUrl === undefined ? "" : decodeURIComponent(new URL(postgresUrl).password)
const postgresConfig = ["sessions:", "  engine: postgres", "adapters:", "  http:", "    port: 0", ""].join("\n")

/** A loopback port nothing listens on: taken, then given back. */
const closedPort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const doctor = async (ctx: TestContext, env: Record<string, string | undefined>) => {
  const sb = new Sandbox(ctx)
  const home = sb.home(postgresConfig)
  const result = await sb.cli(["gateway", "doctor", "--home", home.dir], env)
  const output = result.stdout + result.stderr
  if (password !== "") ctx.expect(output.includes(password), "the password appears in doctor's output").toBe(false)
  const url = env.DATABASE_URL
  if (url !== undefined) ctx.expect(output.includes(url), "the connection URL appears in doctor's output").toBe(false)
  return { ...result, output }
}

describe.skipIf(postgresUrl === undefined).concurrent(`doctor on a PostgreSQL session database${skipped}`, () => {
  it("a reachable empty database: ok, run will create the schema; exit 0", async (ctx) => {
    const database = await databaseFor(ctx)
    const result = await doctor(ctx, { DATABASE_URL: urlFor(database) })
    ctx.expect(result.code, result.output).toBe(0)
    ctx.expect(result.stdout).toMatch(new RegExp(`ok\\s+sessions\\s+PostgreSQL \\S+@127\\.0\\.0\\.1:\\d+/${database} answered; no session schema yet`))
    // Read-only: the doctor neither creates nor migrates the schema.
    const tables = await Effect.runPromise(adminQuery("SELECT to_regclass('schema_migrations')::text AS t", database))
    ctx.expect(tables[0]?.t ?? null).toBe(null)
  })

  it("a schema newer than this binary: FAIL naming both versions; exit 1", async (ctx) => {
    const database = await databaseFor(ctx)
    await Effect.runPromise(adminQuery(
      "CREATE TABLE schema_migrations (migration_id integer PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL);" +
        "INSERT INTO schema_migrations (migration_id, name) VALUES (999, 'from_the_future')",
      database
    ))
    const result = await doctor(ctx, { DATABASE_URL: urlFor(database) })
    ctx.expect(result.code, result.output).toBe(1)
    ctx.expect(result.stdout).toMatch(/FAIL\s+sessions\s+PostgreSQL .* holds session schema version 999, newer than this gateway knows \(\d+\)/)
  })

  it("an unreachable server: FAIL naming host and port; exit 1", async (ctx) => {
    const port = await closedPort()
    const result = await doctor(ctx, { DATABASE_URL: `postgresql://hermes:${password || "pw"}@127.0.0.1:${port}/sessions` })
    ctx.expect(result.code, result.output).toBe(1)
    ctx.expect(result.stdout).toMatch(new RegExp(`FAIL\\s+sessions\\s+cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}`))
  })

  it("a wrong password: FAIL saying so; exit 1", async (ctx) => {
    const wrong = `wrong-${randomBytes(6).toString("hex")}`
    const result = await doctor(ctx, { DATABASE_URL: urlFor("postgres", { password: wrong }) })
    ctx.expect(result.code, result.output).toBe(1)
    ctx.expect(result.output.includes(wrong)).toBe(false)
    ctx.expect(result.stdout).toMatch(/FAIL\s+sessions\s+PostgreSQL .* refused the session database: .*\(wrong password for this user\)/)
  })

  it("the URL variable unset: FAIL naming it; exit 1", async (ctx) => {
    const result = await doctor(ctx, { DATABASE_URL: undefined })
    ctx.expect(result.code, result.output).toBe(1)
    ctx.expect(result.stdout).toMatch(/FAIL\s+sessions\s+sessions\.postgres\.url_env: the environment variable DATABASE_URL is not set/)
  })
})
