// One INFO line per finished turn.
import { describe, expect, it } from "@effect/vitest"
import { turnLine } from "../../../src/lifecycle/TurnLog.js"

const ids = { turnId: "t1", sessionId: "s1" }

describe("turn line", () => {
  it("names platform, session, outcome and duration", () => {
    expect(turnLine("http", { _tag: "Completed", ids, reply: "secret reply" }, 1234)).toBe(
      "turn finished platform=http session=s1 turn=t1 outcome=completed duration=1.23s"
    )
    expect(turnLine("telegram", { _tag: "Failed", ids, message: "x" }, 87)).toContain("outcome=failed duration=87ms")
    expect(turnLine("http", { _tag: "Refused", reason: "session_suspended", message: "m" }, 3)).toBe(
      "turn finished platform=http session=- outcome=refused reason=session_suspended duration=3ms"
    )
  })
  it("never carries the message or reply text", () => {
    expect(turnLine("http", { _tag: "Completed", ids, reply: "secret reply" }, 1)).not.toContain("secret")
  })
})
