// The adapter's own scope: health followed as a stream of changes, and disconnect ending every
// fiber the adapter started (poller, chat workers, typing) so nothing talks to the Bot API after it.
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { TurnEvent, type TurnIntake } from "../../../../src/adapters/Adapter.js"
import { makeTelegramAdapter } from "../../../../src/adapters/telegram/TelegramAdapter.js"
import { quietDelivery, recordingContext } from "../IntakeContextFixture.js"
import { fakeToken, type FakeBotApi, startFakeBotApi } from "./FakeBotApi.js"
import { fromSubmit } from "../IntakeFakes.js"

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

const adapterFor = (api: FakeBotApi) =>
  makeTelegramAdapter({
    // As an older config loader hands it over: a plain string, wrapped by the adapter.
    token: fakeToken,
    tokenEnv: "TELEGRAM_BOT_TOKEN",
    apiBaseUrl: api.url,
    pollTimeout: Duration.seconds(2),
    allowedUsers: [],
    ledgerFile: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hermes-telegram-")), "telegram_offset.json"),
    typingInterval: Duration.millis(50),
    backoffBase: Duration.millis(50),
    backoffCap: Duration.millis(100)
  }).pipe(Effect.provide(FetchHttpClient.layer))

/** An intake whose every turn is recorded and then held until `release`. */
const heldIntake = (accepted: Deferred.Deferred<void>, release: Deferred.Deferred<void>): TurnIntake => {
  const ids = { turnId: "t1", sessionId: "s1" }
  return fromSubmit({
    active: Effect.succeed(0),
    resume: () => Stream.never,
    submit: () =>
      Stream.concat(
        Stream.make(TurnEvent.Accepted({ ids })),
        Stream.fromEffect(Effect.gen(function*() {
          yield* Deferred.succeed(accepted, undefined)
          yield* Deferred.await(release)
          return TurnEvent.Outcome({ outcome: { _tag: "Completed", ids, reply: "late" } })
        }))
      )
  })
}

describe("TelegramAdapter scope", () => {
  it.scopedLive("health follows the poller: retrying with the error, then polling", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      api.failNext("getMe", { status: 502, description: "Bad Gateway" }, 2)
      const adapter = yield* adapterFor(api)
      const seen = yield* adapter.health.pipe(
        Stream.takeUntil((health) => health.state === "polling"),
        Stream.runCollect,
        Effect.fork
      )
      yield* Effect.acquireRelease(adapter.connect, () => adapter.disconnect).pipe(Effect.orDie)
      yield* adapter.startIntake(heldIntake(yield* Deferred.make<void>(), yield* Deferred.make<void>()), recordingContext().context).pipe(Effect.provide(quietDelivery))
      const changes = [...(yield* Fiber.join(seen))]
      const states = changes.map((health) => health.state)
      expect(states[0]).toBe("disconnected")
      expect(changes).toContainEqual({ state: "retrying", error: "getMe failed: 502 Bad Gateway" })
      expect(states.at(-1)).toBe("polling")
      // Each change once: never the same health twice in a row.
      const keys = changes.map((health) => `${health.state}/${health.error}`)
      expect(keys.filter((key, i) => i > 0 && keys[i - 1] === key)).toEqual([])
      expect(yield* adapter.healthRef.get).toEqual({ state: "polling", error: null })
    }).pipe(quiet))

  it.scopedLive("after disconnect nothing of the adapter calls the Bot API: poller, chat worker and typing are gone", () =>
    Effect.gen(function*() {
      const api = yield* startFakeBotApi()
      const adapter = yield* adapterFor(api)
      const accepted = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* adapter.connect
      yield* adapter.startIntake(heldIntake(accepted, release), recordingContext().context).pipe(Effect.provide(quietDelivery))
      api.push({ chatId: 5, text: "a long one" })
      yield* Deferred.await(accepted)
      yield* api.until(() => api.calls.filter((c) => c.method === "sendChatAction").length >= 2)
      yield* adapter.stopIntake
      yield* adapter.disconnect.pipe(Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new Error("disconnect hung") }))
      expect((yield* adapter.status).state).toBe("disconnected")
      const calls = api.calls.length
      // The turn finishing now has no worker left to answer it; typing has stopped.
      yield* Deferred.succeed(release, undefined)
      yield* Effect.sleep(Duration.millis(300))
      expect(api.calls.slice(calls)).toEqual([])
      expect(api.waiting()).toBe(0)
      // A second disconnect is harmless.
      yield* adapter.disconnect
    }).pipe(quiet))
})
