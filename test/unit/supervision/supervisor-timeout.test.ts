// The start-up warning when the supervisor would SIGKILL before our hard deadline (CONTRACT 3.3).
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { parseTimeoutStopUSec } from "../../../src/config/Duration.js"
import { budgetWarning } from "../../../src/supervision/SupervisorTimeout.js"

const live = (text: string) => ({ timeout: Either.getOrThrow(parseTimeoutStopUSec(text)), source: "systemd TimeoutStopUSec of x.service" })

describe("supervisor budget warning", () => {
  it("names both numbers when the supervisor's timeout is shorter than the hard deadline", () => {
    const warning = budgetWarning(live("10s"), Duration.seconds(35), Duration.seconds(40))
    expect(Option.getOrThrow(warning)).toContain("is 10s, shorter than the shutdown hard deadline 35s")
    expect(Option.getOrThrow(warning)).toContain("at least 40s")
  })
  it("is silent when the timeout covers the deadline, including systemd's all-digit microseconds and infinity", () => {
    expect(Option.isNone(budgetWarning(live("40000000"), Duration.seconds(35), Duration.seconds(40)))).toBe(true)
    expect(Option.isNone(budgetWarning(live("infinity"), Duration.seconds(35), Duration.seconds(40)))).toBe(true)
    expect(Option.isSome(budgetWarning(live("1min 30s"), Duration.seconds(95), Duration.seconds(100)))).toBe(true)
  })
})
