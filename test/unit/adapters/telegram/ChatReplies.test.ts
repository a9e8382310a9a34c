import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { parseCommand, quote, statusReply } from "../../../../src/adapters/telegram/ChatReplies.js"
import { testView } from "../IntakeContextFixture.js"

describe("parseCommand", () => {
  it("knows /status and /restart, bare or addressed to this bot, in any case", () => {
    expect(parseCommand("/status", "hermes_bot")).toBe("status")
    expect(parseCommand("  /RESTART  ", "hermes_bot")).toBe("restart")
    expect(parseCommand("/status@Hermes_Bot", "hermes_bot")).toBe("status")
    expect(parseCommand("/restart now please", "hermes_bot")).toBe("restart")
  })

  it("leaves everything else to the agent", () => {
    expect(parseCommand("/status@other_bot", "hermes_bot")).toBeUndefined()
    expect(parseCommand("/status@hermes_bot", null)).toBeUndefined()
    expect(parseCommand("/start", "hermes_bot")).toBeUndefined()
    expect(parseCommand("/statusx", "hermes_bot")).toBeUndefined()
    expect(parseCommand("please /restart", "hermes_bot")).toBeUndefined()
    expect(parseCommand("", "hermes_bot")).toBeUndefined()
  })

  it.prop(
    "text that does not start with a slash is never a command",
    [fc.string().filter((s) => !s.trim().startsWith("/"))],
    ([text]) => {
      expect(parseCommand(text, "hermes_bot")).toBeUndefined()
    },
    { fastCheck: { numRuns: 200 } }
  )
})

describe("replies", () => {
  it("quotes the start of a message on one line", () => {
    expect(quote("short")).toBe("“short”")
    expect(quote("a\n\nb   c")).toBe("“a b c”")
    const long = quote("x".repeat(200))
    expect(long.length).toBe(82)
    expect(long.endsWith("…”")).toBe(true)
  })

  it("/status shows state, pid, uptime, turns, platforms with their errors, and the agent", () => {
    const text = statusReply({
      ...testView,
      activeTurns: 2,
      supervisor: "systemd",
      platforms: { http: { state: "connected", error: null }, telegram: { state: "retrying", error: "getUpdates failed: 502" } }
    }, Date.parse(testView.startedAt) + 3_723_000)
    expect(text).toBe([
      "Hermes gateway: running",
      "pid 4242, up 1h 2min 3s, supervised by systemd",
      "turns in progress: 2",
      "http: connected",
      "telegram: retrying (getUpdates failed: 502)",
      "agent: echo"
    ].join("\n"))
  })
})
