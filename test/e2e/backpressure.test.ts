// End-to-end: gateway.max_inflight_turns. With two turns held in flight by the FakeModel latch, a
// third request is refused at once with 429, Retry-After and an OpenAI-style error (code "busy"),
// reaches neither the journal nor the model, and is counted; once the held turns end, requests are
// answered again.
import { beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import { assertBuilt, chat, Sandbox } from "./harness.js"
import { heldTurn, modelConfig } from "./Turns.js"

beforeAll(assertBuilt)

const refusedBusy = async (port: number): Promise<number | undefined> => {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })
  const line = (await response.text()).split("\n").find((l) => l.startsWith("hermes_messages_refused_total{") && l.includes('reason="busy"'))
  return line === undefined ? undefined : Number(line.split(" ").at(-1))
}

describe("back-pressure (gateway.max_inflight_turns)", () => {
  it("the third turn while two are held gets 429 + Retry-After at once; after they end, turns are answered", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const model = await FakeModel.start(ctx)
    model.holdAll()
    const home = sb.home(["gateway:", "  max_inflight_turns: 2", modelConfig(model)].join("\n"))
    const gw = sb.run(home)
    const port = await gw.waitRunning()
    const first = await heldTurn(gw, model, port, "one")
    const second = await heldTurn(gw, model, port, "two")

    // Refused while both are still held: the answer cannot have waited for either of them.
    const refused = await chat(port, "three")
    expect(refused.status, JSON.stringify(refused.body)).toBe(429)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(refused.body.error).toMatchObject({ type: "rate_limit_error", code: "busy" })
    expect(refused.body.error.message).toContain("max_inflight_turns")
    expect(model.requestsFor("three")).toEqual([])
    expect(await refusedBusy(port)).toBe(1)

    model.releaseAll()
    expect((await first.reply).status).toBe(200)
    expect((await second.reply).status).toBe(200)
    const again = await chat(port, "four")
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    expect(again.body.choices[0].message.content).toBe("answer: four")

    gw.signal("SIGTERM")
    expect(await gw.waitExit(), gw.describe()).toMatchObject({ signal: null })
  })
})
