// bench/side-by-side.ts's options: defaults, repeated --bin, and one clear line for each mistake.
import { describe, expect, it } from "@effect/vitest"
import { argument, BenchUsageError, parseSideBySideArgs } from "../../../bench/lib/Args.js"

describe("parseSideBySideArgs", () => {
  it("defaults to the checkout's own build, 5 runs and 10 connections", () => {
    const options = parseSideBySideArgs([])
    expect(options.bins).toEqual([{ label: "main", file: "dist/hermes.js" }])
    expect(options).toMatchObject({ node: undefined, runs: 5, connections: 10, sessions: 0, longSession: 10_000, cpuProfileDir: undefined })
  })

  it("takes several builds, another node and numbers", () => {
    const options = parseSideBySideArgs(["--bin", "base=/tmp/a/hermes.js", "--bin", "new=dist/hermes.js", "--node", "/tmp/node24/bin/node", "--runs", "7", "--load-seconds", "2.5"])
    expect(options.bins).toEqual([{ label: "base", file: "/tmp/a/hermes.js" }, { label: "new", file: "dist/hermes.js" }])
    expect(options).toMatchObject({ node: "/tmp/node24/bin/node", runs: 7, loadSeconds: 2.5 })
  })

  it("refuses what it cannot use, naming it", () => {
    const refusal = (argv: ReadonlyArray<string>) => {
      try {
        parseSideBySideArgs(argv)
        return "accepted"
      } catch (error) {
        expect(error).toBeInstanceOf(BenchUsageError)
        return (error as Error).message
      }
    }
    expect(refusal(["--runs", "0"])).toBe(`--runs wants a number ≥ 1, got "0"`)
    expect(refusal(["--runs", "many"])).toBe(`--runs wants a number ≥ 1, got "many"`)
    expect(refusal(["--runs"])).toBe("--runs needs a value")
    expect(refusal(["--requests", "2000"])).toMatch(/^unknown option --requests \(known: --runs, /)
    expect(refusal(["dist/hermes.js"])).toMatch(/^unexpected argument "dist\/hermes.js"/)
    expect(refusal(["--bin", "dist/hermes.js"])).toBe(`--bin wants LABEL=PATH, got "dist/hermes.js"`)
    expect(refusal(["--bin", "bare=dist/hermes.js"])).toBe("--bin label bare is taken by an anchor")
    expect(refusal(["--bin", "a=x.js", "--bin", "a=y.js"])).toBe("--bin label a given twice")
  })
})

describe("argument", () => {
  it("is the value after --name, or undefined when the option or its value is missing", () => {
    expect(argument("starts", ["node", "x.ts", "--node", "/n", "--starts", "3"])).toBe("3")
    expect(argument("node", ["node", "x.ts", "--node", "/n", "--starts", "3"])).toBe("/n")
    expect(argument("runs", ["node", "x.ts", "--starts", "3"])).toBeUndefined()
    expect(argument("starts", ["node", "x.ts", "--starts"])).toBeUndefined()
  })
})
