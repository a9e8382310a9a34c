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
  /** Leaves a signal to whoever takes the signals next (e.g. the restart parent). */
  readonly giveBack: (signal: ProcessSignal) => Effect.Effect<void>
}>() {
  /** Claims the process's signals for the life of the layer. */
  static readonly live: Layer.Layer<Signals> = Layer.scoped(
    Signals,
    Effect.gen(function*() {
      const queue = yield* Queue.unbounded<ProcessSignal>()
      const hub = installSignalHub()
      // Signals nobody took before the release go to the next claimant, not into the void.
      yield* Effect.acquireRelease(
        Effect.sync(() => hub.claim((signal) => Queue.unsafeOffer(queue, signal))),
        (release) =>
          Queue.takeAll(queue).pipe(Effect.flatMap((left) =>
            Effect.sync(() => {
              release()
              for (const signal of left) hub.giveBack(signal)
            })
          ))
      )
      return { take: Queue.take(queue), giveBack: (signal) => Effect.sync(() => hub.giveBack(signal)) }
    })
  )

  /** Signals delivered by a test through the returned queue. */
  static readonly fromQueue = (queue: Queue.Queue<ProcessSignal>): Layer.Layer<Signals> =>
    Layer.succeed(Signals, { take: Queue.take(queue), giveBack: () => Effect.void })
}
