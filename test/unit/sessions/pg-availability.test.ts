// The PostgreSQL server lost while running (PgAvailability.ts), without a server: a connection
// failure marks the database lost once, later operations are refused at once without running,
// one prober reconnects with backoff, and its success lets operations through again.
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { isConnectionLoss, makeAvailability, reconnectSchedule } from "../../../src/sessions/postgres/PgAvailability.js"
import { SessionDbError } from "../../../src/sessions/SessionDb.js"
import { collectingLogs } from "./harness.js"

const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5439"), { code: "ECONNREFUSED" })
const badStatement = Object.assign(new Error("syntax error at or near \"SELEC\""), { code: "42601" })

describe("PgAvailability", () => {
  it("tells a lost server from a failed statement, in failures and in defects", () => {
    expect(isConnectionLoss(Cause.fail(refused))).toBe(true)
    expect(isConnectionLoss(Cause.die({ message: "commit failed", cause: refused }))).toBe(true)
    expect(isConnectionLoss(Cause.fail(new Error("Connection terminated unexpectedly")))).toBe(true)
    expect(isConnectionLoss(Cause.fail(badStatement))).toBe(false)
    expect(isConnectionLoss(Cause.fail(new SessionDbError({ message: "unknown turn t", reason: "unknown_turn" })))).toBe(false)
  })

  it("reconnects 250 ms after the loss, doubling, never more than 10 s apart", () => {
    const delays = Effect.runSync(
      Schedule.run(Schedule.delays(reconnectSchedule), 0, Array.from({ length: 9 }, (_, i) => i))
    )
    expect(Array.from(delays).map(Duration.toMillis)).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000])
  })

  it.scoped("one loss is logged once; operations are refused at once until the prober gets through, then run again", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const serverUp = yield* Ref.make(true)
      const probes = yield* Ref.make(0)
      const probe = Ref.update(probes, (n) => n + 1).pipe(
        Effect.zipRight(Ref.get(serverUp)),
        Effect.flatMap((up) => (up ? Effect.void : Effect.fail(refused)))
      )
      const availability = yield* makeAvailability({ label: "u@db:5432/chat", probe, scope })
      const ran = yield* Ref.make(0)
      const statement = Ref.update(ran, (n) => n + 1).pipe(
        Effect.zipRight(Ref.get(serverUp)),
        Effect.flatMap((up) => (up ? Effect.succeed("ok") : Effect.fail(refused)))
      )
      const attempt = availability.around(statement).pipe(Effect.either, Effect.provide(collectingLogs(logs)))

      expect((yield* attempt)._tag).toBe("Right")
      yield* Ref.set(serverUp, false)
      const lost = yield* attempt
      expect(lost._tag === "Left" && lost.left).toBe(refused)
      const refusedAtOnce = yield* attempt
      expect(refusedAtOnce._tag === "Left" && refusedAtOnce.left instanceof SessionDbError && refusedAtOnce.left.reason).toBe("unreachable")
      expect(yield* Ref.get(ran)).toBe(2)
      expect(logs.filter((l) => l.includes("lost:"))).toEqual([
        "ERROR session database u@db:5432/chat lost: connect ECONNREFUSED 127.0.0.1:5439; new turns are refused (HTTP 503) until it is back; reconnecting with backoff"
      ])

      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Ref.get(probes)).toBeGreaterThanOrEqual(2)
      expect((yield* attempt)._tag).toBe("Left")
      yield* Ref.set(serverUp, true)
      yield* TestClock.adjust(Duration.seconds(10))
      const back = yield* attempt
      expect(back._tag === "Right" && back.right).toBe("ok")
      expect(logs.some((l) => /is back after \d+\.\ds; new turns are accepted again/.test(l))).toBe(true)
      expect(logs.filter((l) => l.includes("lost:"))).toHaveLength(1)
    }))
})
