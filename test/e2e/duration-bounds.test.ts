// End-to-end: the largest shutdown budget config.yaml allows (issue "Hostile input", item 5). Node
// runs a timer past 2^31 - 1 ms at once, so before the bounds a drain_timeout of 30 days made the
// hard-deadline watchdog fire on the first stop (exit 70, the client never answered). At the
// bounds the deadline is a little over an hour: a stop is an ordinary planned stop.
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

describe("duration bounds at run time", () => {
  it("with every shutdown step at its upper bound, SIGINT is a planned stop (0), not a watchdog exit (70)", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home(
      "gateway:\n  drain_timeout: 1h\n  adapter_disconnect_timeout: 5min\n  db_close_timeout: 5min\n  marker_ttl: 1h\n" +
        "  loop_stall_timeout: 1h\nadapters:\n  http:\n    port: 0\n"
    )
    const gw = sb.run(home)
    await gw.waitRunning()
    gw.signal("SIGINT")
    expect(await gw.waitExit(), gw.describe()).toEqual({ code: 0, signal: null })
    expect(gw.stderr).not.toContain("hard deadline")
    expect(home.lifecycle().filter((record) => record.event === "watchdog")).toEqual([])
  })
})
