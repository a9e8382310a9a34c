// The SessionDB worker as the tests start it: the current source bundled once per test process
// (as `npm run build` bundles it), because a worker that loads its TypeScript through tsx spends
// about a second compiling at every start and the suites start hundreds.
import { buildSync } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { WorkerEntry } from "../../../src/sessions/worker/WorkerLink.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
let built: WorkerEntry | undefined

/** Inside the checkout (not /tmp), so the bundle finds node-sqlite3-wasm in node_modules; removed at exit. */
export const testWorkerEntry = (): WorkerEntry => {
  if (built !== undefined) return built
  // Named after the vitest run (test/globalSetup.ts), which removes it when the run ends.
  const run = process.env["TEST_WORKER_BUNDLE_RUN"] ?? "solo"
  const dir = fs.mkdtempSync(path.join(root, "test", `.worker-bundle-${run}-`))
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  const outfile = path.join(dir, "session-db-worker.mjs")
  buildSync({
    entryPoints: [path.join(root, "src/sessions/worker/SessionDbWorkerMain.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["node-sqlite3-wasm"],
    outfile,
    logLevel: "warning",
    banner: { js: "import{createRequire as __hermesRequire}from'node:module';const require=__hermesRequire(import.meta.url);" }
  })
  built = { url: pathToFileURL(outfile) }
  return built
}
