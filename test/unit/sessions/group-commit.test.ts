// The group-commit decision (GroupCommit.ts): which calls share a transaction, where a close falls.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import { type Pending, planSteps, type Step } from "../../../src/sessions/worker/GroupCommit.js"

const call = (id: number): Pending<string> => ({ _tag: "Call", id, call: `c${id}` })
const close: Pending<string> = { _tag: "Close" }

const idsOf = (step: Step<string>): ReadonlyArray<number> =>
  step._tag === "Alone" ? [step.request.id] : step._tag === "Close" ? [] : step.requests.map((r) => r.id)

const pendingArbitrary = FastCheck.array(FastCheck.oneof(
  { arbitrary: FastCheck.constant("call" as const), weight: 8 },
  { arbitrary: FastCheck.constant("close" as const), weight: 1 }
), { maxLength: 40 }).map((kinds) => kinds.map((kind, i) => (kind === "call" ? call(i) : close)))

describe("group commit planning", () => {
  it("a lone call keeps its own transaction", () => {
    expect(planSteps([call(1)], 8)).toEqual([{ _tag: "Alone", request: call(1) }])
  })

  it("calls that arrived together share one transaction, at most maxGroup of them", () => {
    const steps = planSteps([1, 2, 3, 4, 5].map(call), 2)
    expect(steps.map((s) => [s._tag, idsOf(s)])).toEqual([["Group", [1, 2]], ["Group", [3, 4]], ["Alone", [5]]])
  })

  it("a close comes after every call before it; calls after it are refused, a second close is ignored", () => {
    const steps = planSteps([call(1), call(2), close, call(3), close, call(4)], 8)
    expect(steps.map((s) => [s._tag, idsOf(s)])).toEqual([["Group", [1, 2]], ["Close", []], ["Refuse", [3, 4]]])
  })

  it("nothing drained, nothing to do", () => {
    expect(planSteps([], 8)).toEqual([])
  })

  it.effect.prop("every call is in exactly one step, in arrival order; no step runs a call after the close", [pendingArbitrary, FastCheck.integer({ min: 1, max: 10 })], ([drained, maxGroup]) =>
    Effect.sync(() => {
      const steps = planSteps(drained, maxGroup)
      const calls = drained.flatMap((p) => (p._tag === "Call" ? [p.id] : []))
      expect(steps.flatMap(idsOf)).toEqual(calls)
      const closeAt = steps.findIndex((s) => s._tag === "Close")
      const firstClose = drained.findIndex((p) => p._tag === "Close")
      expect(closeAt === -1).toBe(firstClose === -1)
      for (const [i, step] of steps.entries()) {
        if (step._tag === "Group") expect(step.requests.length).toBeGreaterThan(1)
        if (step._tag === "Group" || step._tag === "Alone") {
          expect(idsOf(step).length).toBeLessThanOrEqual(maxGroup)
          if (closeAt !== -1) expect(i).toBeLessThan(closeAt)
          for (const id of idsOf(step)) if (firstClose !== -1) expect(id).toBeLessThan(firstClose)
        }
        if (step._tag === "Refuse") expect(i).toBeGreaterThan(closeAt)
      }
    }))
})
