// The SessionDB's worker thread dies under a running gateway (issue 13, item 1): new turns are
// refused with 503 storage and Retry-After, one error line says why, and the gateway starts the
// thread again on its own; turns are then answered again, and a planned stop still exits 0.
// The thread is taken away by a preload from outside the bundle (fixtures/db-worker-switch.mjs).
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, it } from "vitest"
import { readDb } from "./fixtures/sessions-client.js"
import { assertBuilt, chat, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

const switchFixture = fileURLToPath(new URL("./fixtures/db-worker-switch.mjs", import.meta.url))
const config = ["adapters:", "  http:", "    port: 0", ""].join("\n")

describe("the SessionDB worker thread dies", () => {
  it("new turns get 503 storage while it is down, it is started again, turns are answered again, and a planned stop exits 0", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(config)
    const switchDir = fs.mkdtempSync(path.join(home.dir, "switch-"))
    const gw = sb.run(home, { NODE_OPTIONS: `--import ${switchFixture}`, HERMES_TEST_DB_WORKER_SWITCH: switchDir })
    const port = await gw.waitRunning()
    const first = await chat(port, "before")
    expect(first.status, JSON.stringify(first.body)).toBe(200)

    // Down, and kept down until the test lets it come back.
    fs.writeFileSync(path.join(switchDir, "down"), "")
    fs.writeFileSync(path.join(switchDir, "kill"), "")
    await gw.waitLog("new turns are refused until it is started again")
    const refused = await chat(port, "during")
    expect(refused.status, JSON.stringify(refused.body)).toBe(503)
    expect(refused.body.error.code).toBe("storage")
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(gw.alive).toBe(true)

    fs.rmSync(path.join(switchDir, "down"))
    await gw.waitLog("worker thread started again")
    const after = await chat(port, "after")
    expect(after.status, JSON.stringify(after.body)).toBe(200)
    expect(after.body.choices[0].message.content).toBe("after")

    const stop = await sb.cli(["gateway", "stop", "--home", home.dir])
    expect(stop.code, stop.stdout + stop.stderr).toBe(0)
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    // The turns before and after are recorded and completed; the refused message never was.
    const db = await readDb(home.dir)
    const texts = [...db.transcripts.values()].flatMap((t) => t.messages.map((m) => m.content))
    expect(texts.filter((text) => ["before", "during", "after"].includes(text)).sort()).toEqual(["after", "after", "before", "before"])
    expect(db.turns.map((t) => t.status)).toEqual(["completed", "completed"])
  })
})
