// A head start for the SessionDB's worker thread. `gateway run` starts it first thing, so the
// thread loads and compiles its code and the SQLite engine on the other core while the gateway loads
// its own code, reads its config and takes the home lock; the database itself is opened only after
// the lock, by WorkerLink, which takes the thread from here. A thread nobody takes (the home is
// locked by another gateway, the config is wrong) is unref'd: it ends with the process.
import { Worker } from "node:worker_threads"

/** The options WorkerLink starts its threads with; a thread started otherwise is not taken. */
export const sessionDbWorkerOptions = { stdout: false, stderr: false } as const

interface Waiting {
  readonly url: string
  readonly worker: Worker
  ended: boolean
}

let waiting: Waiting | undefined

/**
 * Starts the thread from `url` unless one is already waiting; never throws (no head start then).
 * Returns the thread it started, for a test to watch; the gateway gets it from takePrestartedWorker.
 */
export const prestartSessionDbWorker = (url: URL): Worker | undefined => {
  if (waiting !== undefined) return undefined
  try {
    const worker = new Worker(url, sessionDbWorkerOptions)
    const slot: Waiting = { url: url.href, worker, ended: false }
    // Until it is taken, an error (a missing file) only means there is no head start.
    worker.on("error", () => void (slot.ended = true))
    worker.on("exit", () => void (slot.ended = true))
    worker.unref()
    waiting = slot
    return worker
  } catch {
    waiting = undefined
    return undefined
  }
}

const sameUrl = (a: string, b: string | URL): boolean => {
  try {
    return new URL(b).href === a
  } catch {
    return false
  }
}

/**
 * The waiting thread, if it was started from `url` and is still alive: from now on it belongs to
 * the caller (referenced, its own listeners only). Otherwise undefined, and a thread left waiting
 * for another file is ended.
 */
export const takePrestartedWorker = (url: string | URL): Worker | undefined => {
  const slot = waiting
  waiting = undefined
  if (slot === undefined) return undefined
  if (slot.ended || !sameUrl(slot.url, url)) {
    void slot.worker.terminate()
    return undefined
  }
  slot.worker.removeAllListeners("error")
  slot.worker.removeAllListeners("exit")
  slot.worker.ref()
  return slot.worker
}

/** `hermes gateway run ...`: the one command that opens the SessionDB in a worker. */
export const startsGatewayRun = (args: ReadonlyArray<string>): boolean => args[0] === "gateway" && args[1] === "run"
