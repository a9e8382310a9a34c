// What bench/worker-floor.ts's echoes start before they listen: W worker threads (W from argv[2]),
// each staying alive as the SessionDB's worker does, each waited for until its first message.
import { Worker } from "node:worker_threads"

const workerSource = "const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => {}); parentPort.postMessage('up')"

export const startWorkers = (count: number): Promise<void> =>
  Promise.all(
    Array.from({ length: count }, () => {
      const worker = new Worker(workerSource, { eval: true })
      return new Promise<void>((resolve) => worker.once("message", () => resolve()))
    })
  ).then(() => undefined)

/** The echo's worker count, from `node echo.mjs W`. */
export const workerCount = (): number => {
  const count = Number(process.argv[2] ?? 0)
  if (!Number.isInteger(count) || count < 0) throw new Error(`worker count must be a whole number, got ${process.argv[2]}`)
  return count
}
