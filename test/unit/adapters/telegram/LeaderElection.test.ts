// Telegram's leader election (LeaderElection.ts) against a real PostgreSQL: two campaigns for one
// bot token, in one process, each with its own lock connection. The first leads, the second stands
// by naming it; the second takes over at once when the first resigns (NOTIFY, with a retry interval
// far longer than the test waits), when its connection is reset (SIGKILL), and when its connection
// goes silent (a half-dead leader: it must stop leading before the other starts).
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as fc from "effect/FastCheck"
import { campaign, defaultTiming, describeRole, type ElectionTiming, fencingMargin, lockKeyOf, type Role } from "../../../../src/adapters/telegram/LeaderElection.js"
import { tokenKey } from "../../../../src/adapters/telegram/PollerLock.js"
import { CuttableLink } from "../../../e2e/fixtures/CuttableLink.js"
import { postgresUrl, scratchDatabase, settingsFor, urlFor } from "../../sessions/postgres.js"

describe("leader election, pure", () => {
  it.prop("the lock key is a 32-bit integer from the bot's key, the same for the same token", [fc.nat(), fc.string({ minLength: 8 })], ([bot, secret]) => {
    const token = `${bot}:${secret}`
    const key = lockKeyOf(tokenKey(token))
    expect(Number.isSafeInteger(key) && key >= -(2 ** 31) && key < 2 ** 31).toBe(true)
    expect(lockKeyOf(tokenKey(token))).toBe(key)
    expect(tokenKey(token).includes(token)).toBe(false)
  })

  it("the default timing notices a silent lock connection well before the server frees the lock", () => {
    expect(fencingMargin(defaultTiming)).toBeGreaterThanOrEqual(10_000)
    expect(fencingMargin({ ...defaultTiming, heartbeat: Duration.seconds(20) })).toBeLessThan(0)
    expect(() => Effect.runFork(campaign({ ...campaignBase, timing: { ...defaultTiming, heartbeat: Duration.seconds(20) } }))).toThrow(/heartbeat/)
  })

  it("status words: polling, standby naming the leader, waiting with the reason", () => {
    expect(describeRole({ _tag: "Leader" })).toEqual({ state: "polling", note: null })
    expect(describeRole({ _tag: "Standby", leader: "hermes-telegram h pid 7" })).toEqual({
      state: "standby",
      note: "another replica polls: hermes-telegram h pid 7"
    })
    expect(describeRole({ _tag: "Waiting", error: "ECONNREFUSED" }).state).toBe("waiting")
  })
})

const campaignBase = {
  settings: settingsFor(urlFor("postgres")),
  applicationName: "hermes-telegram test",
  botKey: tokenKey("1:unit-test"),
  onSession: () => Effect.void,
  onRole: () => Effect.void,
  lead: () => Effect.never
}

/** Short timings; the retry interval is long unless a test needs it short, so only a NOTIFY wakes a follower fast. */
const timing = (over: Partial<ElectionTiming> = {}): ElectionTiming => ({
  retryInterval: Duration.seconds(60),
  heartbeat: Duration.millis(300),
  timeout: Duration.millis(700),
  serverKeepalive: { idle: 10, interval: 3, count: 3 },
  reconnectCap: Duration.seconds(1),
  ...over
})

interface Replica {
  readonly fiber: Fiber.RuntimeFiber<never>
  readonly roles: Ref.Ref<ReadonlyArray<Role>>
}

/** Starts a campaign that records `<name>:lead` and `<name>:stop` in `events`. */
const startReplica = (name: string, url: string, botKey: string, events: Ref.Ref<ReadonlyArray<string>>, over: Partial<ElectionTiming> = {}) =>
  Effect.gen(function*() {
    const roles = yield* Ref.make<ReadonlyArray<Role>>([])
    const fiber = yield* Effect.forkScoped(campaign({
      settings: settingsFor(url),
      applicationName: `hermes-telegram test ${name}`,
      botKey,
      timing: timing(over),
      onSession: () => Effect.void,
      onRole: (role) => Ref.update(roles, (list) => [...list, role]),
      lead: () =>
        Ref.update(events, (list) => [...list, `${name}:lead`]).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Ref.update(events, (list) => [...list, `${name}:stop`]))
        )
    }))
    return { fiber, roles } satisfies Replica
  })

/** Polls `probe` every 20 ms until it gives a value; dies after `timeoutMs` naming what it waited for. */
const waitUntil = <A>(what: string, probe: Effect.Effect<A | undefined>, timeoutMs: number): Effect.Effect<A> =>
  probe.pipe(
    Effect.flatMap((value) => (value === undefined ? Effect.fail("not yet" as const) : Effect.succeed(value))),
    Effect.retry(Schedule.spaced(Duration.millis(20))),
    Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: () => `timed out after ${timeoutMs}ms waiting for ${what}` }),
    Effect.orDie
  )

const has = (events: Ref.Ref<ReadonlyArray<string>>, event: string) => Effect.map(Ref.get(events), (list) => (list.includes(event) ? true : undefined))

describe.skipIf(postgresUrl === undefined)("leader election on a real PostgreSQL", () => {
  it.scopedLive("one leads, the other stands by naming it; a resignation hands over at once (NOTIFY)", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const botKey = tokenKey("1:resign")
      const a = yield* startReplica("a", urlFor(database), botKey, events)
      yield* waitUntil("a leading", has(events, "a:lead"), 20_000)
      const b = yield* startReplica("b", urlFor(database), botKey, events)
      const standby = yield* waitUntil("b standing by", Effect.map(Ref.get(b.roles), (roles) => roles.find((r) => r._tag === "Standby")), 20_000)
      expect(standby).toEqual({ _tag: "Standby", leader: "hermes-telegram test a" })
      // Another bot's campaign is not in the way.
      const other = yield* startReplica("other", urlFor(database), tokenKey("2:another-bot"), events)
      yield* waitUntil("the other bot's leader", has(events, "other:lead"), 20_000)

      yield* Fiber.interrupt(a.fiber)
      yield* waitUntil("b leading", has(events, "b:lead"), 10_000)
      expect((yield* Ref.get(events)).filter((e) => !e.startsWith("other"))).toEqual(["a:lead", "a:stop", "b:lead"])
      yield* Fiber.interrupt(other.fiber)
    }), 60_000)

  it.scopedLive("a leader whose connection is reset (its process was killed) is replaced", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const server = new URL(postgresUrl!)
      const link = yield* Effect.acquireRelease(
        Effect.promise(() => CuttableLink.open({ host: server.hostname, port: Number(server.port) })),
        (link) => Effect.promise(() => link.close())
      )
      const viaLink = new URL(urlFor(database))
      viaLink.port = String(link.port)
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const botKey = tokenKey("1:reset")
      yield* startReplica("a", viaLink.toString(), botKey, events, { reconnectCap: Duration.seconds(60), retryInterval: Duration.seconds(60) })
      yield* waitUntil("a leading", has(events, "a:lead"), 20_000)
      const b = yield* startReplica("b", urlFor(database), botKey, events, { retryInterval: Duration.millis(200) })
      yield* waitUntil("b standing by", Effect.map(Ref.get(b.roles), (roles) => (roles.length > 0 ? true : undefined)), 20_000)
      yield* Effect.promise(() => link.cut())
      yield* waitUntil("b leading", has(events, "b:lead"), 10_000)
      expect(yield* Ref.get(events)).toEqual(["a:lead", "a:stop", "b:lead"])
    }), 60_000)

  it.scopedLive("a half-dead leader (its connection goes silent) stops leading before the other starts", () =>
    Effect.gen(function*() {
      const database = yield* scratchDatabase
      const server = new URL(postgresUrl!)
      const link = yield* Effect.acquireRelease(
        Effect.promise(() => CuttableLink.open({ host: server.hostname, port: Number(server.port) })),
        (link) => Effect.promise(() => link.close())
      )
      const viaLink = new URL(urlFor(database))
      viaLink.port = String(link.port)
      const events = yield* Ref.make<ReadonlyArray<string>>([])
      const botKey = tokenKey("1:silent")
      const a = yield* startReplica("a", viaLink.toString(), botKey, events, { reconnectCap: Duration.seconds(60), retryInterval: Duration.seconds(60) })
      yield* waitUntil("a leading", has(events, "a:lead"), 20_000)
      const b = yield* startReplica("b", urlFor(database), botKey, events, { retryInterval: Duration.millis(200) })
      yield* waitUntil("b standing by", Effect.map(Ref.get(b.roles), (roles) => (roles.length > 0 ? true : undefined)), 20_000)
      // Nothing is closed: the server keeps a's session (and its lock) until a gives it up itself.
      link.stall()
      yield* waitUntil("a to stop leading", has(events, "a:stop"), 10_000)
      yield* waitUntil("b leading", has(events, "b:lead"), 20_000)
      expect(yield* Ref.get(events)).toEqual(["a:lead", "a:stop", "b:lead"])
      const waiting = yield* waitUntil("a waiting", Effect.map(Ref.get(a.roles), (roles) => roles.find((r) => r._tag === "Waiting")), 10_000)
      expect(waiting._tag).toBe("Waiting")
    }), 60_000)
})

