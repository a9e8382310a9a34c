// `stop --mark-only` is a supervisor's stop hook (CONTRACT 8): what it is handed either names a
// process to mark or is a no-op with a reason; only a pid that is not the live gateway is refused.
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { markOnlyVerdict, parseMarkOnlyPid } from "../../../src/cli/MarkOnlyTarget.js"

describe("--pid of a stop hook", () => {
  it("a decimal pid is marked", () => {
    expect(parseMarkOnlyPid("4242")).toEqual({ _tag: "Mark", pid: 4242 })
    expect(parseMarkOnlyPid(" 1 ")).toEqual({ _tag: "Mark", pid: 1 })
  })
  it("empty, unexpanded, non-numeric, 0 and negative are no-ops, each saying why", () => {
    const cases: ReadonlyArray<[string | undefined, RegExp]> = [
      [undefined, /no --pid given/],
      ["", /no --pid given/],
      ["   ", /no --pid given/],
      ["$MAINPID", /"\$MAINPID" is a variable the supervisor did not expand/],
      ["${MAINPID}", /"\$\{MAINPID\}" is a variable the supervisor did not expand/],
      ["abc", /"abc" is not a process id/],
      ["12abc", /not a process id/],
      ["0x10", /not a process id/],
      ["1e3", /not a process id/],
      ["4.2", /not a process id/],
      ["0", /--pid 0 names no process/],
      ["-1", /"-1" is negative/],
      ["99999999999", /out of range/]
    ]
    for (const [text, reason] of cases) {
      const parsed = parseMarkOnlyPid(text)
      expect(parsed._tag, String(text)).toBe("Nothing")
      if (parsed._tag === "Nothing") {
        expect(parsed.reason, String(text)).toMatch(reason)
        expect(parsed.reason).toMatch(/nothing to mark$/)
        expect(parsed.reason).not.toContain("\n")
      }
    }
  })
  it.prop("never throws; marks exactly the positive decimal pids", { text: fc.string() }, ({ text }) => {
    const parsed = parseMarkOnlyPid(text)
    const trimmed = text.trim()
    const isPid = /^\d+$/.test(trimmed) && Number(trimmed) > 0 && Number(trimmed) <= 2 ** 31 - 1
    expect(parsed._tag === "Mark").toBe(isPid)
    if (parsed._tag === "Mark") expect(parsed.pid).toBe(Number(trimmed))
  })
})

describe("whom a stop hook may mark", () => {
  const target = { pid: 100, startTime: "5000" }
  it("the live gateway itself, or anyone when no gateway is alive (start-up, another pid namespace)", () => {
    expect(markOnlyVerdict(target, { ...target }, "/h")._tag).toBe("Write")
    expect(markOnlyVerdict(target, undefined, "/h")._tag).toBe("Write")
  })
  it("refuses a process that is not the live gateway, naming both", () => {
    const other = markOnlyVerdict(target, { pid: 200, startTime: "6000" }, "/srv/hermes")
    expect(other).toMatchObject({ _tag: "Refuse" })
    if (other._tag === "Refuse") expect(other.message).toMatch(/pid 100 is not the gateway of \/srv\/hermes: its live gateway is pid 200/)
    // same pid, another incarnation: the recorded gateway is gone and the pid was recycled
    expect(markOnlyVerdict(target, { pid: 100, startTime: "4999" }, "/h")._tag).toBe("Refuse")
  })
})
