// Once per `vitest run`: the SessionDB worker bundles the test processes build in the checkout
// (test/unit/sessions/workerBundle.ts) carry this run's id, and are removed when the run ends. A
// test process's own exit hook misses them when vitest ends the process without an `exit` event.
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const testDir = fileURLToPath(new URL(".", import.meta.url))

export default function setup(): () => void {
  const run = String(process.pid)
  process.env["TEST_WORKER_BUNDLE_RUN"] = run
  return () => {
    for (const name of fs.readdirSync(testDir)) {
      if (name.startsWith(`.worker-bundle-${run}-`)) fs.rmSync(path.join(testDir, name), { recursive: true, force: true })
    }
  }
}
