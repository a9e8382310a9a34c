// End-to-end: a log sink that goes away (journald restarted, a log shipper's pipe closed) never
// takes the gateway down. Write errors on stderr are swallowed and counted; the gateway keeps
// serving, and its shutdown records still reach the home.
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, chat, Sandbox, startTimeOf, waitFor, writeMarker } from "./harness.js"

beforeAll(assertBuilt)

describe("closed stderr", () => {
  it("the gateway keeps serving with its stderr pipe closed, and a planned stop still exits 0 with its record", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    const port = await gw.waitRunning()

    // Close the read end of the gateway's stderr pipe, then make it log (SIGUSR2 logs a diagnostic
    // report line): that write fails with EPIPE.
    gw.child.stderr!.destroy()
    await waitFor("the stderr pipe closed", () => gw.child.stderr!.destroyed)
    gw.signal("SIGUSR2")
    await waitFor("the diagnostic report written", () =>
      fs.readdirSync(path.join(home.dir, "logs")).some((name) => name.startsWith("diagnostic-")), { timeoutMs: 15_000 })

    const answer = await chat(port, "still there?")
    expect(answer.status, JSON.stringify(answer.body)).toBe(200)
    expect(gw.alive).toBe(true)

    writeMarker(home, { target_pid: gw.pid, target_start_time: startTimeOf(home), action: "stop" })
    gw.signal("SIGTERM")
    expect(await gw.waitExit()).toEqual({ code: 0, signal: null })
    const record = home.lifecycle().filter((r) => r.event === "shutdown").at(-1)
    expect(record).toMatchObject({ classification: "planned", exit_code: 0 })
    expect(record!.log_writes_dropped, "the lines that did not reach stderr are counted").toBeGreaterThan(0)
    expect(home.readState()).toMatchObject({ gateway_state: "stopped", desired_state: "stopped", exit_code: 0 })
  })
})
