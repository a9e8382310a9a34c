// Process signals as data. The runner installs the listeners before the program starts; a program
// that handles signals itself (`gateway run`) claims them and receives each one on a queue.
// Unclaimed, SIGINT/SIGTERM/SIGHUP interrupt the running command (the runner's fallback).
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"

export const handledSignals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const
export type ProcessSignal = (typeof handledSignals)[number]

export interface SignalHub {
  /** Route every signal to `listener` until the returned function is called. */
  readonly claim: (listener: (signal: ProcessSignal) => void) => () => void
  /** What happens to a signal nobody claimed. */
  readonly setFallback: (fallback: (signal: ProcessSignal) => void) => void
}

let installed: SignalHub | undefined

/** Installs the process listeners once; later calls return the same hub. */
export const installSignalHub = (): SignalHub => {
  if (installed !== undefined) return installed
  let claimant: ((signal: ProcessSignal) => void) | undefined
  let fallback: (signal: ProcessSignal) => void = () => {}
  for (const signal of handledSignals) {
    process.on(signal, () => (claimant ?? fallback)(signal))
  }
  installed = {
    claim: (listener) => {
      claimant = listener
      return () => {
        if (claimant === listener) claimant = undefined
      }
    },
    setFallback: (f) => {
      fallback = f
    }
  }
  return installed
}

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
