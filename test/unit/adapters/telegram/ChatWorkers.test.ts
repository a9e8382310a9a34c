import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { makeChatWorkers } from "../../../../src/adapters/telegram/ChatWorkers.js"
import { makeStatusCell } from "../../../../src/adapters/telegram/TelegramStatus.js"

interface Job {
  readonly name: string
  readonly gate?: Deferred.Deferred<void>
  readonly done: Deferred.Deferred<void>
  readonly boom?: boolean
}

const job = (name: string, options: { gated?: boolean; boom?: boolean } = {}) =>
  Effect.gen(function*() {
    const done = yield* Deferred.make<void>()
    const gate = options.gated === true ? yield* Deferred.make<void>() : undefined
    return { name, done, ...(gate !== undefined ? { gate } : {}), ...(options.boom === true ? { boom: true } : {}) } satisfies Job
  })

/** Workers that log "start X" / "end X" and wait at a job's gate in between. */
const recordingWorkers = (log: Array<string>) =>
  makeChatWorkers((j: Job) =>
    Effect.gen(function*() {
      log.push(`start ${j.name}`)
      if (j.gate !== undefined) yield* Deferred.await(j.gate)
      if (j.boom === true) {
        yield* Deferred.succeed(j.done, undefined)
        return yield* Effect.die(new Error("a bug in one job"))
      }
      log.push(`end ${j.name}`)
      yield* Deferred.succeed(j.done, undefined)
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => log.push(`interrupted ${j.name}`)))))

describe("ChatWorkers (a FiberMap keyed by chat)", () => {
  it.scoped("a chat's jobs run one at a time in order, while another chat's run meanwhile", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const workers = yield* recordingWorkers(log)
      const a1 = yield* job("a1", { gated: true })
      const a2 = yield* job("a2")
      const a3 = yield* job("a3")
      const b1 = yield* job("b1")
      yield* workers.offer(1, a1)
      yield* workers.offer(1, a2)
      yield* workers.offer(1, a3)
      yield* workers.offer(2, b1)
      yield* Deferred.await(b1.done)
      expect(log).toContain("end b1")
      expect(log).not.toContain("start a2")
      yield* Deferred.succeed(a1.gate!, undefined)
      yield* Deferred.await(a3.done)
      expect(log.filter((line) => / a\d$/.test(line))).toEqual(["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"])
      expect(yield* workers.size).toBe(2)
    }))

  it.scoped("a job that dies is logged and the chat's next job still runs", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const workers = yield* recordingWorkers(log)
      const bad = yield* job("bad", { boom: true })
      const next = yield* job("next")
      yield* workers.offer(1, bad)
      yield* workers.offer(1, next)
      yield* Deferred.await(next.done)
      expect(log).toEqual(["start bad", "start next", "end next"])
    }))

  it.effect("closing the adapter's scope interrupts every worker, busy or idle", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const scope = yield* Scope.make()
      const workers = yield* Scope.extend(recordingWorkers(log), scope)
      const held = yield* job("held", { gated: true })
      yield* workers.offer(1, held)
      yield* workers.offer(2, yield* job("idle"))
      while (!log.includes("start held") || !log.includes("end idle")) yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      expect(log).toContain("interrupted held")
      expect(yield* workers.size).toBe(0)
    }))
})

describe("the adapter's status cell", () => {
  it.effect("health changes are published once each; other status fields do not publish health", () =>
    Effect.gen(function*() {
      const cell = yield* makeStatusCell
      const subscribed = yield* Deferred.make<void>()
      const collected = yield* cell.health.changes.pipe(
        Stream.tap(() => Deferred.succeed(subscribed, undefined)),
        Stream.take(4),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(subscribed)
      yield* cell.patch({ acknowledged: 10 })
      yield* cell.patch({ state: "retrying", error: "502", retryInMs: 500 })
      yield* cell.patch({ state: "retrying", error: "502", retryInMs: 1000 })
      yield* cell.patch({ bot: "hermes_bot" })
      yield* cell.patch({ state: "polling", error: null, retryInMs: null })
      yield* cell.patch({ state: "stopped" })
      const seen = [...(yield* Fiber.join(collected))]
      expect(seen).toEqual([
        { state: "disconnected", error: null },
        { state: "retrying", error: "502" },
        { state: "polling", error: null },
        { state: "stopped", error: null }
      ])
      expect(yield* SubscriptionRef.get(cell.status)).toEqual({ state: "stopped", error: null, retryInMs: null, bot: "hermes_bot", acknowledged: 10 })
    }))
})
