// The process's signal listeners, installed by the first statements of the bundle and never
// removed until process.exit. Without them a SIGTERM that lands while the bundle is still being
// evaluated, or between two owners of the signals, gets Node's default action: the process dies
// by the signal, skipping every record.
//
// This module imports nothing on purpose: it must be evaluated before the heavy modules are
// (src/bin/EarlySignals.ts installs the hub as the bundle's first statement).
//
// Routing, in order: the current claimant (the gateway, a restart parent, boot's idle loop) gets
// every signal. Without one, a signal is held for the next claimant when the process is, or has
// been, a gateway (so it is classified, and a late one never takes the 128+n path); otherwise the
// runner's fallback interrupts the command.

export const handledSignals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const
export type ProcessSignal = (typeof handledSignals)[number]

export interface SignalHub {
  /** Route every signal to `listener` until the returned function is called; held signals first. */
  readonly claim: (listener: (signal: ProcessSignal) => void) => () => void
  /** What happens to a signal nobody claimed in a process that never claimed signals. */
  readonly setFallback: (fallback: (signal: ProcessSignal) => void) => void
  /** This process runs a gateway: hold unclaimed signals for it instead of using the fallback. */
  readonly holdForGateway: () => void
  /** Called with each signal that is held (and the signals held so far, it included). */
  readonly onHeld: (hook: (signal: ProcessSignal, held: ReadonlyArray<ProcessSignal>) => void) => void
  /** A signal a claimant took but leaves to the next one (a gateway past its final state). */
  readonly giveBack: (signal: ProcessSignal) => void
  /** Signals held and never delivered to a claimant. */
  readonly held: () => ReadonlyArray<ProcessSignal>
  /** Whether any claimant ever took the signals. */
  readonly everClaimed: () => boolean
}

const hubKey = Symbol.for("hermes/SignalHub")

/** A hub over `listen`, which subscribes a handler to one process signal (process.on in production). */
export const makeSignalHub = (listen: (signal: ProcessSignal, handler: () => void) => void): SignalHub => {
  let claimant: ((signal: ProcessSignal) => void) | undefined
  let fallback: ((signal: ProcessSignal) => void) | undefined
  let holding = false
  let claimedOnce = false
  let heldHook: ((signal: ProcessSignal, held: ReadonlyArray<ProcessSignal>) => void) | undefined
  const held: Array<ProcessSignal> = []

  const route = (signal: ProcessSignal): void => {
    if (claimant !== undefined) return claimant(signal)
    if (holding || claimedOnce || fallback === undefined) {
      held.push(signal)
      heldHook?.(signal, [...held])
      return
    }
    fallback(signal)
  }
  const flushTo = (target: (signal: ProcessSignal) => void): void => {
    const waiting = held.splice(0, held.length)
    for (const signal of waiting) target(signal)
  }

  for (const signal of handledSignals) listen(signal, () => route(signal))

  return {
    claim: (listener) => {
      claimant = listener
      claimedOnce = true
      flushTo(listener)
      return () => {
        if (claimant === listener) claimant = undefined
      }
    },
    setFallback: (f) => {
      fallback = f
      if (!holding && !claimedOnce) flushTo(f)
    },
    holdForGateway: () => {
      holding = true
    },
    onHeld: (hook) => {
      heldHook = hook
    },
    giveBack: (signal) => {
      held.push(signal)
    },
    held: () => [...held],
    everClaimed: () => claimedOnce
  }
}

/** Installs the process listeners once (across module copies); later calls return the same hub. */
export const installSignalHub = (): SignalHub => {
  const registry = globalThis as unknown as Record<symbol, SignalHub | undefined>
  const existing = registry[hubKey]
  if (existing !== undefined) return existing
  const hub = makeSignalHub((signal, handler) => process.on(signal, handler))
  registry[hubKey] = hub
  return hub
}

const optionsWithValue = new Set(["--home", "--timeout", "--pid", "--last", "--manager", "--out", "--log-level"])

/**
 * Whether a command line starts a gateway (`hermes gateway run|boot`), read before the real parser
 * is even loaded: such a process holds early signals for its gateway rather than dying by them.
 */
export const startsGateway = (args: ReadonlyArray<string>): boolean => {
  const words: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg.startsWith("-")) {
      if (optionsWithValue.has(arg)) i++
      continue
    }
    words.push(arg)
  }
  return words[0] === "gateway" && (words[1] === "run" || words[1] === "boot")
}
