// A resumed turn's INFO line names the platform it belongs to, as the journal recorded it, not
// the word "resumed".
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { outcomeOf } from "../../../src/adapters/TurnIntake.js"
import { Agent } from "../../../src/agents/Agent.js"
import { makeTurnSupervisor } from "../../../src/lifecycle/TurnSupervisor.js"
import { collectingLogs, dbFile, engineCases, inbound, openLife, tempHome } from "../sessions/harness.js"

const agent = Layer.succeed(Agent, { model: "m", respond: () => Stream.make("answer again") })

describe.each(engineCases)("resumed turn log on $label", ({ available, engine }) => {
  it.scopedLive.skipIf(!available)("the finished line of a resumed telegram turn says platform=telegram", () =>
    Effect.gen(function*() {
      const db = yield* openLife(dbFile(yield* tempHome), engine)
      const cut = yield* db.beginTurn(inbound({ platform: "telegram", sessionKey: "42", text: "question" }))
      yield* db.interruptTurn(cut.ids, "gateway restarting")
      const lines: Array<string> = []
      const outcome = yield* Effect.gen(function*() {
        const supervisor = yield* makeTurnSupervisor(db)
        return yield* outcomeOf(supervisor.intake.resume(cut.ids.turnId))
      }).pipe(Effect.provide(Layer.merge(agent, collectingLogs(lines))))
      expect(outcome).toMatchObject({ _tag: "Completed", ids: cut.ids, reply: "answer again" })
      const finished = lines.filter((line) => line.includes("turn finished"))
      expect(finished).toHaveLength(1)
      expect(finished[0]).toContain(`platform=telegram session=${cut.ids.sessionId} turn=${cut.ids.turnId} outcome=completed`)
    }))
})
