// End-to-end: the HTTP API key and the agent's API key reach the places that need them (the bearer
// check, the model server) and nowhere else: not the logs at debug level, not `status --json`, not
// `report`, not `doctor`, not a file in the home.
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import { assertBuilt, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

const httpKey = "hk-9f3b7c1d5e2a4068"
const agentKey = "sk-agent-7d1e5c9a3b2f4680"

/** Every file under `dir`, with its text (small homes only). */
const filesOf = (dir: string): Array<{ file: string; text: string }> =>
  fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name))
    .map((file) => ({ file, text: fs.readFileSync(file).toString("latin1") }))

describe("secrets", () => {
  it("api_key and the agent's key never appear in logs, status, report, doctor or the home", async (ctx) => {
    const { expect } = ctx
    const model = await FakeModel.start(ctx)
    const sb = new Sandbox(ctx)
    const home = sb.home([
      "adapters:",
      "  http:",
      "    port: 0",
      `    api_key: ${httpKey}`,
      "agent:",
      "  kind: openai",
      "  openai:",
      `    base_url: ${JSON.stringify(model.baseUrl)}`,
      "    model: fake-model",
      "    api_key_env: OPENAI_API_KEY",
      "    timeout: 10s",
      ""
    ].join("\n"))
    const env = { OPENAI_API_KEY: agentKey, HERMES_LOG_LEVEL: "debug" }
    const gw = sb.run(home, env)
    const port = await gw.waitRunning()

    // The keys do their work: the bearer check lets the client in, the model server gets its key.
    const answer = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${httpKey}` },
      body: JSON.stringify({ messages: [{ role: "user", content: "who holds the key" }] }),
      signal: AbortSignal.timeout(10_000)
    })
    expect(answer.status, gw.describe()).toBe(200)
    await answer.text()
    expect(model.requestsFor("who holds the key")[0]?.authorization).toBe(`Bearer ${agentKey}`)
    const refused = await fetch(`http://127.0.0.1:${port}/v1/models`, {
      headers: { authorization: "Bearer wrong" },
      signal: AbortSignal.timeout(10_000)
    })
    expect(refused.status).toBe(401)
    const refusal = await refused.text()

    const status = await sb.cli(["gateway", "status", "--json", "--home", home.dir], env)
    expect(status.code, status.stderr).toBe(0)
    const doctor = await sb.cli(["gateway", "doctor", "--home", home.dir], env)
    gw.signal("SIGTERM")
    await gw.waitExit()
    const report = await sb.cli(["gateway", "report", "--home", home.dir], env)
    expect(report.stdout).toContain("SHUTDOWN")

    const seen = [
      { where: "gateway stderr", text: gw.stderr },
      { where: "gateway stdout", text: gw.stdout },
      { where: "401 body", text: refusal },
      { where: "status --json", text: status.stdout + status.stderr },
      { where: "doctor", text: doctor.stdout + doctor.stderr },
      { where: "report", text: report.stdout + report.stderr },
      ...filesOf(home.dir)
        .filter(({ file }) => file !== home.config)
        .map(({ file, text }) => ({ where: file, text }))
    ]
    expect(gw.stderr).toMatch(/level=debug|DEBUG/i)
    for (const { where, text } of seen) {
      expect(text.includes(httpKey), `${where} shows the HTTP api_key`).toBe(false)
      expect(text.includes(agentKey), `${where} shows the agent's API key`).toBe(false)
    }
  })
})
