import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Duration from "effect/Duration"
import { carryoverOf, expiredReason, planCarryover } from "../../../src/lifecycle/Carryover.js"
import type { BacklogTurn } from "../../../src/sessions/SessionDb.js"

const now = Date.parse("2026-11-21T12:00:00.000Z")
const hour = Duration.hours(1)

const turn = (patch: Partial<BacklogTurn> & Pick<BacklogTurn, "status">): BacklogTurn => ({
  ids: { turnId: "t", sessionId: "s" },
  platform: "telegram",
  chatKey: "42",
  inbound: "question",
  reply: null,
  reason: null,
  startedAt: new Date(now - 60_000).toISOString(),
  interruptedLives: 0,
  replyRef: null,
  ...patch
})

const arbitraryTurn = fc.record({
  status: fc.constantFrom("resume_pending", "completed", "failed", "interrupted") as fc.Arbitrary<BacklogTurn["status"]>,
  ageMs: fc.integer({ min: -60_000, max: 3 * 3600_000 }),
  reply: fc.option(fc.string(), { nil: null }),
  reason: fc.option(fc.string(), { nil: null })
}).map(({ ageMs, ...rest }) => turn({ ...rest, startedAt: new Date(now - ageMs).toISOString() }))

describe("planCarryover", () => {
  it("resumes a resume_pending turn within the window, expires an older one, delivers an ended one", () => {
    const plan = planCarryover([
      turn({ status: "resume_pending", startedAt: new Date(now - 59 * 60_000).toISOString() }),
      turn({ status: "resume_pending", startedAt: new Date(now - 61 * 60_000).toISOString() }),
      turn({ status: "completed", reply: "hi", startedAt: new Date(now - 48 * 3600_000).toISOString() }),
      turn({ status: "resume_pending", startedAt: "not a time" })
    ], now, hour)
    expect(plan.map((p) => p.action)).toEqual(["resume", "expire", "deliver", "expire"])
  })

  it("a zero window resumes nothing, not even a message from this very moment", () => {
    expect(planCarryover([turn({ status: "resume_pending", startedAt: new Date(now).toISOString() })], now, Duration.zero)
      .map((p) => p.action)).toEqual(["expire"])
  })

  it.prop(
    "every backlog turn gets one action, in order; only resume_pending turns younger than the window are resumed",
    [fc.array(arbitraryTurn, { maxLength: 30 }), fc.integer({ min: 0, max: 2 * 3600_000 })],
    ([backlog, windowMs]) => {
      const plan = planCarryover(backlog, now, Duration.millis(windowMs))
      expect(plan.map((p) => p.turn)).toEqual(backlog)
      for (const { action, turn } of plan) {
        const age = now - Date.parse(turn.startedAt)
        if (turn.status !== "resume_pending") expect(action).toBe("deliver")
        else expect(action).toBe(windowMs > 0 && age <= windowMs ? "resume" : "expire")
      }
    },
    { fastCheck: { numRuns: 200 } }
  )
})

describe("carryoverOf", () => {
  const reason = expiredReason(hour)

  it("names the window in the reason of an expired turn", () => {
    expect(reason).toContain("1h")
  })

  it("tells the platform what to send", () => {
    const base = { ids: { turnId: "t", sessionId: "s" }, chatKey: "42", inbound: "question", replyRef: null }
    expect(carryoverOf({ action: "resume", turn: turn({ status: "resume_pending" }) }, reason))
      .toEqual({ _tag: "Resume", ...base, startedAt: new Date(now - 60_000).toISOString() })
    expect(carryoverOf({ action: "expire", turn: turn({ status: "resume_pending" }) }, reason))
      .toEqual({ _tag: "Deliver", ...base, outcome: "interrupted", text: reason })
    expect(carryoverOf({ action: "deliver", turn: turn({ status: "completed", reply: "the answer" }) }, reason))
      .toEqual({ _tag: "Deliver", ...base, outcome: "completed", text: "the answer" })
    expect(carryoverOf({ action: "deliver", turn: turn({ status: "failed", reason: "model down" }) }, reason))
      .toEqual({ _tag: "Deliver", ...base, outcome: "failed", text: "model down" })
    expect(carryoverOf({ action: "deliver", turn: turn({ status: "interrupted", reason: null }) }, reason))
      .toMatchObject({ outcome: "interrupted", text: "no reason was recorded" })
  })
})
