// The SessionDB worker's head start: the thread started before the program loads is the one the
// gateway's WorkerLink takes, only for the same code, once, and only while it is alive.
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { prestartSessionDbWorker, startsGatewayRun, takePrestartedWorker } from "../../../src/sessions/worker/Prestart.js"

const scratch = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-prestart-"))
  const idle = path.join(dir, "idle.mjs")
  // Waits for messages like the real worker before its open; answers "alive" to prove it runs.
  fs.writeFileSync(idle, `import { parentPort } from "node:worker_threads"\nparentPort.on("message", () => parentPort.postMessage("alive"))\n`)
  return { dir, idle: pathToFileURL(idle) }
}

describe("SessionDB worker head start", () => {
  it("only `gateway run` starts one", () => {
    expect(startsGatewayRun(["gateway", "run", "--home", "/x"])).toBe(true)
    expect(startsGatewayRun(["gateway", "status"])).toBe(false)
    expect(startsGatewayRun(["gateway"])).toBe(false)
    expect(startsGatewayRun([])).toBe(false)
  })

  it("the thread started early is taken once, alive, for the same code", async () => {
    const { dir, idle } = scratch()
    try {
      prestartSessionDbWorker(idle)
      const worker = takePrestartedWorker(idle.href)
      expect(worker).toBeDefined()
      const answer = new Promise((resolve) => worker!.once("message", resolve))
      worker!.postMessage("ping")
      expect(await answer).toBe("alive")
      expect(takePrestartedWorker(idle.href)).toBeUndefined()
      await worker!.terminate()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a thread started for other code is ended, not handed out", async () => {
    const { dir, idle } = scratch()
    try {
      const started = prestartSessionDbWorker(idle)
      expect(started).toBeDefined()
      const exited = new Promise((resolve) => started!.once("exit", resolve))
      expect(takePrestartedWorker(new URL("file:///elsewhere/session-db-worker.js"))).toBeUndefined()
      // The slot is empty afterwards: the right url finds nothing either.
      expect(takePrestartedWorker(idle.href)).toBeUndefined()
      // And the thread is ended, not left idle: its exit event is the proof.
      await exited
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
