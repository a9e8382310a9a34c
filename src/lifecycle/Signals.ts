// Process signals as data. The listeners are installed before anything else (SignalHub.ts); a
// program that handles signals itself (`gateway run`) claims them and receives each one on a queue.
// Unclaimed, SIGINT/SIGTERM/SIGHUP interrupt the running command (the runner's fallback), unless the
// process is a gateway: then they wait for the gateway's claim.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import { installSignalHub, type ProcessSignal } from "./SignalHub.js"

export { handledSignals, installSignalHub, type ProcessSignal, type SignalHub } from "./SignalHub.js"

export class Signals extends Context.Tag("hermes/Signals")<Signals, {
  /** The next signal, in arrival order. */
  readonly take: Effect.Effect<ProcessSignal>
}>() {
  /** Claims the process's signals for the life of the layer. */
  static readonly live: Layer.Layer<Signals> = Layer.scoped(
    Signals,
    Effect.gen(function*() {
      const queue = yield* Queue.unbounded<ProcessSignal>()
      const hub = installSignalHub()
      yield* Effect.acquireRelease(
        Effect.sync(() => hub.claim((signal) => Queue.unsafeOffer(queue, signal))),
        (release) => Effect.sync(release)
      )
      return { take: Queue.take(queue) }
    })
  )

  /** Signals delivered by a test through the returned queue. */
  static readonly fromQueue = (queue: Queue.Queue<ProcessSignal>): Layer.Layer<Signals> =>
    Layer.succeed(Signals, { take: Queue.take(queue) })
}
