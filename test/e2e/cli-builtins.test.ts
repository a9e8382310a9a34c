// End-to-end: the built CLI refuses @effect/cli's --wizard and --completions as unknown options
// (one line, exit 64) instead of starting an interactive wizard or printing a completion script.
import { beforeAll, describe, it } from "vitest"
import { assertBuilt, Sandbox } from "./harness.js"

beforeAll(assertBuilt)

describe("built-in options of @effect/cli", () => {
  it("--wizard and --completions exit 64 with one line naming the option", async (ctx) => {
    const { expect } = ctx
    const sb = new Sandbox(ctx)
    const home = sb.home()
    for (const args of [["gateway", "run", "--home", home.dir, "--wizard"], ["gateway", "status", "--completions", "bash"]]) {
      const result = await sb.cli(args)
      expect(result.code, args.join(" ")).toBe(64)
      expect(result.stdout).toBe("")
      expect(result.stderr).toMatch(/^hermes: unknown option '--(wizard|completions)' for 'hermes gateway (run|status)'; run '[^']+' to list its options\n/)
    }
    // Nothing was started by the refused `run`.
    expect(home.readState()).toBeUndefined()
  })
})
