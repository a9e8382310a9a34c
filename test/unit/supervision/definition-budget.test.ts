// A service definition never carries a kill timeout past Node's timer limit (issue "Hostile input",
// item 5): config bounds keep every budget far below it, and a budget from any other caller is refused.
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { inputProblems, managers } from "../../../src/supervision/Definition.js"
import { defaultBudget, goldenInput } from "./fixtures.js"

describe("definition input: the shutdown budget", () => {
  it.each(managers)("%s: a 30-day drain is refused, the default budget is fine", (manager) => {
    const input = goldenInput(manager)
    expect(inputProblems(manager, { ...input, budget: defaultBudget })).toEqual([])
    const problems = inputProblems(manager, { ...input, budget: { ...defaultBudget, drain: Duration.days(30) } })
    expect(problems).toEqual(["the shutdown budget is longer than the 24.8-day timer limit: see the duration bounds in README.md"])
  })
})
