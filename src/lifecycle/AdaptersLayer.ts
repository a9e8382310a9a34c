// Stack layer: every enabled adapter connected in parallel, each bounded; released as phase 6,
// disconnect_adapters (parallel, each bounded; the state file shows them disconnected with the
// final state, GatewayStatus.disconnected). While the gateway starts and runs, each platform's
// health stream moves `platforms` in the status, which the state file follows.
import { formatDuration } from "../config/Duration.js"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { type Adapter, AdapterConnectError, type PlatformHealth } from "../adapters/Adapter.js"
import { ExitCode } from "./ExitCode.js"
import { NoAdapterConnected, NoAdapterEnabled } from "./GatewayErrors.js"
import type { GatewayStatus, PlatformEntry } from "./GatewayStatus.js"
import { Life } from "./Life.js"
import { isShuttingDown } from "./LifecycleState.js"
import { abandonAfter } from "./Phase.js"
import { Watchdog } from "./Watchdog.js"

/** The adapters that connected (those that failed are only in the state file). */
export class ConnectedAdapters extends Context.Tag("hermes/ConnectedAdapters")<ConnectedAdapters, ReadonlyArray<Adapter>>() {}

/** A health report moves the platform's entry while the gateway starts or runs; shutdown has the last word. */
export const withHealth = (status: GatewayStatus, name: string, health: PlatformHealth): GatewayStatus => {
  const known = status.platforms[name]
  if (isShuttingDown(status.lifecycle)) return status
  if (known !== undefined && known.state === health.state && known.error === health.error) return status
  return { ...status, platforms: { ...status.platforms, [name]: { ...known, state: health.state, error: health.error } } }
}

export const AdaptersLayer = Layer.scoped(
  ConnectedAdapters,
  Effect.gen(function*() {
    const { life, watchdog } = yield* Effect.all({ life: Life, watchdog: Watchdog })
    const { adapters, budget } = life.settings
    yield* watchdog.phase("startup:connect_adapters")
    const attempted = yield* Ref.make<ReadonlyArray<Adapter>>([])

    const disconnectOne = (adapter: Adapter) =>
      abandonAfter(adapter.disconnect, budget.adapterDisconnect).pipe(
        Effect.flatMap(Option.match({
          onNone: () =>
            Effect.logWarning(`adapter ${adapter.name} did not disconnect within ${formatDuration(budget.adapterDisconnect)}; abandoned`),
          onSome: () => Effect.logDebug(`adapter ${adapter.name} disconnected`)
        })),
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`adapter ${adapter.name} failed to disconnect: ${Cause.pretty(cause).split("\n")[0]}`)
        )
      )
    yield* Effect.addFinalizer(() =>
      Ref.get(attempted).pipe(Effect.flatMap((list) =>
        life.phase("disconnect_adapters")(Effect.forEach(list, disconnectOne, { concurrency: "unbounded", discard: true }))
      ))
    )

    if (adapters.length === 0) {
      return yield* new NoAdapterEnabled({ message: "no adapter is enabled: enable adapters.http (or another platform) in config.yaml" })
    }
    const results = yield* Effect.forEach(adapters, (adapter) =>
      Ref.update(attempted, (list) => [...list, adapter]).pipe(
        Effect.zipRight(adapter.connect.pipe(
          Effect.timeoutFail({
            duration: budget.adapterConnect,
            onTimeout: () =>
              new AdapterConnectError({
                adapter: adapter.name,
                message: `${adapter.name} did not connect within ${formatDuration(budget.adapterConnect)}`,
                exitCode: ExitCode.Unavailable
              })
          }),
          Effect.either
        )),
        Effect.map((result) => ({ adapter, result }))
      ), { concurrency: "unbounded" })
    const platforms: Record<string, PlatformEntry> = {}
    const connected: Array<Adapter> = []
    for (const { adapter, result } of results) {
      if (result._tag === "Right") {
        connected.push(adapter)
        // An adapter may start in another state (Telegram: "retrying" while the Bot API is unreachable).
        const platform: PlatformEntry = { state: "connected", error: null, ...result.right }
        platforms[adapter.name] = platform
        const details = Object.entries(result.right).map(([k, v]) => `${k}=${v}`).join(" ")
        if (platform.state === "connected") yield* Effect.log(`adapter ${adapter.name} connected ${details}`)
        else yield* Effect.logWarning(`adapter ${adapter.name} started but is not connected yet; it keeps trying: ${details}`)
      } else {
        platforms[adapter.name] = { state: "failed", error: result.left.message }
        yield* Effect.logError(`adapter ${adapter.name} failed to connect: ${result.left.message}`)
      }
    }
    yield* life.update((status) => ({ ...status, platforms }))
    // Written here, not left to the follower: which write comes when stays the same in every life
    // (the crash matrix stops the gateway at the n-th write of the state file).
    yield* life.writeState.pipe(Effect.catchAll((error) => Effect.logWarning(`could not write gateway state: ${error.message}`)))
    for (const { result } of results) {
      if (result._tag === "Left" && (result.left.exitCode === ExitCode.Config || result.left.endsStartup === true)) {
        return yield* Effect.fail(result.left)
      }
    }
    if (connected.length === 0) {
      return yield* new NoAdapterConnected({
        message: `no adapter could connect: ${results.map((r) => r.result._tag === "Left" ? r.result.left.message : "").join("; ")}`
      })
    }
    // Forked after the disconnect finalizer, so they end before it: its word on each platform is the last.
    for (const adapter of connected) {
      const health = adapter.health
      if (health === undefined) continue
      yield* health.pipe(
        Stream.runForEach((report) => life.update((status) => withHealth(status, adapter.name, report))),
        Effect.forkScoped
      )
    }
    return connected
  })
)
