// `hermes gateway boot`: container boot reconcile (CONTRACT 4). A container that comes back after a
// restart runs the gateway again unless an operator stopped it; then it stays up, idle, so a
// `restart: unless-stopped` policy does not loop, and exits 0 when the container is stopped.
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type FileReading, readJsonSync } from "../home/AtomicFile.js"
import { GatewayStateDocument } from "../home/GatewayStateFile.js"
import { Signals } from "../lifecycle/Signals.js"
import { homeOption, resolvePaths } from "./HomeOption.js"
import { runInHome } from "./RunCommand.js"

export interface BootDecision {
  readonly start: boolean
  readonly reason: string
}

/** Pure: whether a booting container starts the gateway, from the run-intent it left behind. */
export const bootDecision = (state: FileReading<GatewayStateDocument>): BootDecision => {
  switch (state._tag) {
    case "Missing":
      return { start: true, reason: "no gateway_state.json yet (first boot)" }
    case "Invalid":
      return { start: true, reason: `${state.reason}; run-intent unknown, starting` }
    case "Valid": {
      const { desired_state, gateway_state } = state.value
      if (desired_state !== undefined) {
        return desired_state === "running"
          ? { start: true, reason: "desired_state is running" }
          : { start: false, reason: "desired_state is stopped (an operator stopped the gateway)" }
      }
      return gateway_state === "running" || gateway_state === "draining"
        ? { start: true, reason: `no desired_state; gateway_state was ${gateway_state}` }
        : { start: false, reason: `no desired_state; gateway_state was ${gateway_state}` }
    }
  }
}

/** Stays up without a gateway until the container is stopped. */
const idle = Effect.gen(function*() {
  const signals = yield* Signals
  yield* signals.take.pipe(Effect.repeat({ until: (signal) => signal === "SIGTERM" || signal === "SIGINT" || signal === "SIGHUP" }))
}).pipe(Effect.provide(Layer.fresh(Signals.live)))

export const bootCommand = Command.make("boot", { home: homeOption }, ({ home }) =>
  Effect.gen(function*() {
    const paths = yield* resolvePaths(home)
    const decision = bootDecision(readJsonSync(paths.state, GatewayStateDocument))
    process.stderr.write(`hermes boot: ${decision.reason}: ${decision.start ? "starting the gateway" : "not starting it; idle until stopped"}\n`)
    if (decision.start) return yield* runInHome(home)
    yield* idle
  })).pipe(Command.withDescription(
    "Container entry point: runs the gateway unless an operator stopped it (desired_state in gateway_state.json); " +
      "otherwise stays idle until the container stops."
  ))
