// What the side-by-side benchmark starts: the two anchors (bench/anchors, bundled here with esbuild
// into a temp dir, never committed) and gateway builds. Each start gets a fresh temp dir (the
// gateway's home), a free loopback port and its output in a file, so reading it costs this
// process no CPU; "ready" is spawn → first 200 from GET /readyz, polled every 2 ms.
import { build, type Plugin } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { readyzStatus } from "./HttpLoad.js"
import { freePort, hasExited, killAndWait, makeTempDir, now, removeTempDir, rssMb, sleep, spawnTracked, type Spawned } from "./Processes.js"

export type TargetKind = "anchor" | "gateway"

export interface StartOptions {
  readonly echoDelayMs?: number
  readonly nodeArgs?: ReadonlyArray<string>
}

export interface Running extends Spawned {
  readonly port: number
  /** The temp dir of this start: the gateway's home, the anchor's output. */
  readonly dir: string
  readonly readyMs: number
  readonly rssAtReadyMb: number
  readonly log: () => string
}

export interface Target {
  readonly label: string
  readonly kind: TargetKind
  /** The file run by node (a bundle). */
  readonly file: string
  readonly start: (options?: StartOptions) => Promise<Running>
}

const readyDeadlineMs = 60_000

const startProcess = async (node: string, dir: string, args: (port: number) => ReadonlyArray<string>): Promise<Running> => {
  const port = await freePort()
  const logFile = path.join(dir, "bench-output.log")
  const fd = fs.openSync(logFile, "w")
  const argv = args(port)
  const spawnedAt = now()
  const spawned = spawnTracked(node, argv, ["ignore", fd, fd])
  fs.closeSync(fd)
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-3000) : "")
  while ((await readyzStatus(port)) !== 200) {
    if (hasExited(spawned.child)) throw new Error(`${argv.join(" ")} exited ${spawned.child.exitCode} before ready\n${log()}`)
    if (now() > spawnedAt + readyDeadlineMs) {
      await killAndWait(spawned)
      throw new Error(`not ready after ${readyDeadlineMs} ms: ${argv.join(" ")}\n${log()}`)
    }
    await sleep(2)
  }
  return { ...spawned, port, dir, readyMs: now() - spawnedAt, rssAtReadyMb: rssMb(spawned.pid), log }
}

/** Kills it if it still runs and removes its temp dir. */
export const finish = async (running: Running): Promise<void> => {
  await killAndWait(running)
  removeTempDir(running.dir)
}

const anchorsDir = fileURLToPath(new URL("../anchors/", import.meta.url))
// As package.json bundles the gateway: ESM for Node 20, with `require` for the CommonJS inside.
const requireBanner = "import{createRequire as __benchRequire}from'node:module';const require=__benchRequire(import.meta.url);"

// As the gateway loads node:http (src/platform/NodeHttp.ts): with `require`, not an ES import, whose
// namespace reads node:http's `WebSocket` getter and so loads undici, tls and the CA certificates
// (on Node 24 ~20 ms and 13 MB). The anchors are the least an echo can cost, so they get the same;
// @effect/platform-node's own `import * as Http from "node:http"` included.
const httpByRequire: Plugin = {
  name: "node-http-by-require",
  setup: (anchor) => {
    anchor.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.namespace === "http-by-require" ? { path: "node:http", external: true } : { path: "node:http", namespace: "http-by-require" })
    anchor.onLoad({ filter: /.*/, namespace: "http-by-require" }, () => ({ contents: "module.exports = require(\"node:http\")", loader: "js" }))
  }
}

/** Bundles `bench/anchors/NAME.ts` into `outDir/NAME.mjs` as the gateway is bundled; returns that file. */
export const bundleAnchor = async (name: string, outDir: string): Promise<string> => {
  const file = path.join(outDir, `${name}.mjs`)
  await build({
    entryPoints: [path.join(anchorsDir, `${name}.ts`)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    legalComments: "none",
    logLevel: "warning",
    banner: { js: requireBanner },
    plugins: [httpByRequire],
    outfile: file
  })
  return file
}

/** Bundles bench/anchors/{bare,effect}.ts into `outDir` and returns the two anchor targets. */
export const bundleAnchors = async (node: string, outDir: string): Promise<ReadonlyArray<Target>> =>
  Promise.all((["bare", "effect"] as const).map(async (label) => {
    const file = await bundleAnchor(label, outDir)
    const target: Target = {
      label,
      kind: "anchor",
      file,
      start: (options = {}) => startProcess(node, makeTempDir(`hermes-bench-${label}-`), (port) => [...(options.nodeArgs ?? []), file, String(port)])
    }
    return target
  }))

/** The gateway's config for the benchmark: HTTP on loopback, the echo agent, room for a long session's seed. */
const gatewayConfig = (port: number, echoDelayMs: number): string =>
  [
    "adapters:",
    "  http:",
    "    host: 127.0.0.1",
    `    port: ${port}`,
    "    max_body_bytes: 16777216",
    "agent:",
    "  echo:",
    `    delay: ${echoDelayMs}ms`,
    ""
  ].join("\n")

export const gatewayTarget = (node: string, label: string, file: string): Target => ({
  label,
  kind: "gateway",
  file,
  start: (options = {}) => {
    const home = makeTempDir("hermes-bench-home-")
    return startProcess(node, home, (port) => {
      fs.writeFileSync(path.join(home, "config.yaml"), gatewayConfig(port, options.echoDelayMs ?? 0))
      return [...(options.nodeArgs ?? []), file, "gateway", "run", "--home", home]
    })
  }
})
