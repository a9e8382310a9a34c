// End-to-end: GET /metrics on a real gateway counts its turns (with their duration), the turns in
// flight, the messages refused while draining and the event-loop delay, and after a restart shows
// the last shutdown.
import { beforeAll, describe, it } from "vitest"
import { FakeModel } from "./fakes/FakeModel.js"
import { assertBuilt, chat, readyz, Sandbox, waitFor } from "./harness.js"
import { heldTurn, modelConfig } from "./Turns.js"

beforeAll(assertBuilt)

const scrape = async (port: number): Promise<{ readonly status: number; readonly type: string | null; readonly text: string }> => {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) })
  return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
}

const sampleValue = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const http = `platform="http"`

describe("GET /metrics", () => {
  it("counts turns, their duration, turns in flight and refusals while draining, reports event-loop delay; shows the last shutdown after a restart", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    // "one" and "two" take at least a second, which the duration histogram must show (the delay is
    // the thing measured); "three" is held by the model until the test has seen it drain.
    const model = await FakeModel.start(ctx, { delay: (text) => (text === "one" || text === "two" ? 1_000 : 0) })
    model.hold("three")
    const home = sb.home(modelConfig(model))
    const gw = sb.run(home)
    const port = await gw.waitRunning()

    const first = await scrape(port)
    expect(first.status).toBe(200)
    expect(first.type).toBe("text/plain; version=0.0.4; charset=utf-8")
    expect(sampleValue(first.text, `hermes_adapter_state{${http},state="connected"}`)).toBe(1)
    expect(sampleValue(first.text, "hermes_active_turns")).toBe(0)
    const started = sampleValue(first.text, "hermes_process_start_time_seconds")!
    expect(Math.abs(started - Date.now() / 1000)).toBeLessThan(600)

    const replies = await Promise.all([chat(port, "one"), chat(port, "two")])
    expect(replies.map((r) => r.status)).toEqual([200, 200])
    const after = (await scrape(port)).text
    expect(sampleValue(after, `hermes_turns_total{outcome="completed",${http}}`)).toBe(2)
    expect(sampleValue(after, `hermes_turn_duration_seconds_count{outcome="completed",${http}}`)).toBe(2)
    expect(sampleValue(after, `hermes_turn_duration_seconds_bucket{outcome="completed",${http},le="0.5"}`)).toBe(0)
    expect(sampleValue(after, `hermes_turn_duration_seconds_bucket{outcome="completed",${http},le="+Inf"}`)).toBe(2)
    expect(sampleValue(after, `hermes_turn_duration_seconds_sum{outcome="completed",${http}}`)).toBeGreaterThanOrEqual(2)
    // Each turn is at least two transactions (recorded, completed).
    expect(sampleValue(after, "hermes_session_db_commit_seconds_count")).toBeGreaterThanOrEqual(4)
    expect(after).not.toContain("hermes_last_shutdown_exit_code")
    // The event-loop delay over the window since the first scrape (a second of turns): seconds, ordered.
    const loopP99 = sampleValue(after, "hermes_event_loop_delay_p99_seconds")!
    expect(loopP99).toBeGreaterThanOrEqual(0)
    expect(sampleValue(after, "hermes_event_loop_delay_max_seconds")).toBeGreaterThanOrEqual(loopP99)

    // A turn in flight shows as active, and is still one while the gateway drains.
    const { reply: pending } = await heldTurn(gw, model, port, "three")
    await waitFor("hermes_active_turns 1", async () => sampleValue((await scrape(port)).text, "hermes_active_turns") === 1, {
      context: () => gw.describe()
    })
    gw.signal("SIGTERM")
    await waitFor("readyz 503", async () => (await readyz(port)) === 503, { context: () => gw.describe() })
    const refused = await chat(port, "too late")
    expect(refused.status).toBe(503)
    const draining = (await scrape(port)).text
    expect(sampleValue(draining, `hermes_messages_refused_total{${http},reason="draining"}`)).toBe(1)
    model.release("three")
    expect((await pending).status).toBe(200)
    expect(await gw.waitExit()).toEqual({ code: 1, signal: null })

    const next = sb.run(home, {}, "second life")
    const nextPort = await next.waitRunning()
    const restarted = (await scrape(nextPort)).text
    expect(sampleValue(restarted, "hermes_last_shutdown_exit_code")).toBe(1)
    expect(sampleValue(restarted, "hermes_last_shutdown_duration_seconds")).toBeGreaterThanOrEqual(0)
    for (const phase of ["stop_intake", "drain", "interrupt_turns", "disconnect_adapters", "close_session_db"]) {
      expect(restarted, phase).toMatch(new RegExp(`^hermes_last_shutdown_phase_seconds\\{outcome="\\w+",phase="${phase}"\\} [\\d.e-]+$`, "m"))
    }
    // A new process counts from zero.
    expect(restarted).not.toContain("hermes_turns_total{")
    next.signal("SIGTERM")
    expect((await next.waitExit()).code).toBe(1)
  })
})
