// `hermes gateway stop --mark-only --pid=PID` as a supervisor's stop hook (CONTRACT 8): whatever a
// supervisor hands it that names no process is a no-op (exit 0, one reason on stderr), success is
// quiet, and a pid that is not this home's live gateway is refused rather than marked.
import * as fs from "node:fs"
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

describe.concurrent("stop --mark-only", () => {
  it("an unexpanded variable, a non-numeric value, 0 and -1 are no-ops: exit 0, one line on stderr, nothing on stdout", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const values = ["$MAINPID", "${MAINPID}", "abc", "0", "-1"]
    const results = await Promise.all(values.map((value) =>
      sb.cli(["gateway", "stop", "--mark-only", `--pid=${value}`, "--home", home.dir])
    ))
    results.forEach((result, index) => {
      const shown = `--pid=${values[index]}: ${result.stdout}${result.stderr}`
      expect(result.code, shown).toBe(0)
      expect(result.stdout, shown).toBe("")
      expect(result.stderr.trimEnd().split("\n"), shown).toHaveLength(1)
      expect(result.stderr, shown).toMatch(/nothing to mark/)
    })
    expect(results[0]!.stderr).toMatch(/did not expand/)
    expect(fs.existsSync(home.plannedStop)).toBe(false)
  })

  it("a live process that is not the home's live gateway is refused: exit 1 naming both, no marker", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    const gw = sb.run(home)
    await gw.waitRunning()
    // the test runner itself: alive, and certainly not the gateway
    const stranger = process.pid
    const result = await sb.cli(["gateway", "stop", "--mark-only", `--pid=${stranger}`, "--home", home.dir])
    expect(result.code, result.stdout + result.stderr).toBe(1)
    expect(result.stderr).toContain(`pid ${stranger} is not the gateway of ${home.dir}: its live gateway is pid ${gw.pid}`)
    expect(fs.existsSync(home.plannedStop)).toBe(false)
    expect(gw.alive).toBe(true)
  })
})
