// The client's generation parameters travel from the inbound message to the agent, and what the
// agent reports (model, usage) comes back in the outcome and as Report events.
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { outcomeOf } from "../../../src/adapters/TurnIntake.js"
import { runWithHooks } from "./TurnHooks.js"
import { Agent, type AgentReport, type AgentRequest } from "../../../src/agents/Agent.js"
import { makeTurnSupervisor } from "../../../src/lifecycle/TurnSupervisor.js"
import { emptyJournal, memorySessionDb } from "../../../src/sessions/MemorySessionDb.js"

const served: AgentReport = { model: "served-model", usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } }

const recordingAgent = (seen: Array<AgentRequest>) =>
  Layer.succeed(Agent, {
    model: "configured-model",
    respond: (request) =>
      Stream.unwrap(Effect.gen(function*() {
        seen.push(request)
        if (request.onReport) yield* request.onReport({ model: served.model! })
        const usage = request.onReport?.({ usage: served.usage! }) ?? Effect.void
        return Stream.make("an ", "answer").pipe(Stream.concat(Stream.drain(Stream.fromEffect(usage))))
      }))
  })

describe("turn supervisor: generation parameters and agent reports", () => {
  it.scoped("the inbound message's generation reaches the agent; the report reaches the hook and the outcome", () =>
    Effect.gen(function*() {
      const seen: Array<AgentRequest> = []
      const reports: Array<AgentReport> = []
      const supervisor = yield* makeTurnSupervisor(memorySessionDb(emptyJournal())).pipe(
        Effect.provide(recordingAgent(seen))
      )
      const generation = { temperature: 0.3, max_tokens: 9, response_format: { type: "json_object" } } as const
      const outcome = yield* runWithHooks(
        supervisor.intake.submit({ platform: "http", sessionKey: undefined, text: "hi", history: [], generation }),
        { onReport: (report) => Effect.sync(() => reports.push(report)) }
      )
      expect(seen[0]?.generation).toEqual(generation)
      expect(reports).toEqual([{ model: "served-model" }, { usage: served.usage }])
      expect(outcome).toMatchObject({ _tag: "Completed", reply: "an answer", ...served })
    }))

  it.scoped("a message without parameters gives the agent none, and an agent that reports nothing leaves the outcome without them", () =>
    Effect.gen(function*() {
      const seen: Array<AgentRequest> = []
      const silent = Layer.succeed(Agent, {
        model: "configured-model",
        respond: (request) => Stream.unwrap(Effect.sync(() => seen.push(request)).pipe(Effect.as(Stream.make("ok"))))
      })
      const supervisor = yield* makeTurnSupervisor(memorySessionDb(emptyJournal())).pipe(Effect.provide(silent))
      const outcome = yield* outcomeOf(supervisor.intake.submit({ platform: "http", sessionKey: undefined, text: "hi", history: [] }))
      expect(seen[0]?.generation).toBeUndefined()
      expect(outcome._tag).toBe("Completed")
      if (outcome._tag === "Completed") {
        expect(outcome.model).toBeUndefined()
        expect(outcome.usage).toBeUndefined()
      }
    }))
})
