// s6: a private s6-svscan per test on a scan directory in the scratch dir, holding the service
// directory that `hermes gateway install --manager s6` wrote (run, finish, timeout-kill). Exits are
// read from s6's own death tally (s6-svdt); the gateway's output is s6-svscan's (run does exec 2>&1).
import * as path from "node:path"
import type { Exit, Service, Setup, SupervisorUnderTest } from "./conformance.js"
import { exitCode, killedBy } from "./conformance.js"
import { installDefinition } from "./definitions.js"
import { cleanEnv, type Daemon, hermes, incarnationOf, killTree, run, runOk, startDaemon, waitFor, within } from "./support.js"

/** s6-svdt: one line per death, `@<tai64n> exitcode N` or `@<tai64n> signal SIGNAME`. */
const parseDeathTally = (text: string): Array<Exit> =>
  text.split("\n").flatMap((line) => {
    const exited = /\bexitcode (\d+)/.exec(line)
    if (exited !== null) return [exitCode(Number(exited[1]))]
    const signalled = /\bsignal (SIG\w+)/.exec(line)
    return signalled !== null ? [killedBy(signalled[1]!)] : []
  })

export const prepareS6 = async ({ scratch, home }: Setup): Promise<Service> => {
  const scan = scratch.mkdir("scan")
  const dir = path.join(scan, "hermes-gateway")
  const definition = await installDefinition("s6", { home: home.dir, outDir: dir })
  const killTimeoutMs = Number(definition.read("timeout-kill").trim())
  const log = scratch.path("s6-svscan.log")
  let svscan: Daemon | undefined

  const current = async () => {
    const shown = await run("s6-svstat", ["-o", "up,pid", dir])
    const [up, pid] = shown.stdout.trim().split(/\s+/)
    return up === "true" ? incarnationOf(Number(pid)) : undefined
  }

  return {
    killTimeoutMs,
    start: async () => {
      if (svscan !== undefined) {
        await runOk("s6-svc", ["-u", dir])
        return
      }
      const daemon = startDaemon("s6-svscan", [scan], { env: cleanEnv(), logFile: log })
      svscan = daemon
      // The tree holds s6-supervise and the gateway (in its own session, still a descendant).
      scratch.defer("stop s6-svscan and its services", async () => {
        await killTree(daemon.incarnation)
        await within(5_000, "s6-svscan's exit", daemon.exited)
      })
      await waitFor("s6-supervise for the service", async () => (await run("s6-svok", [dir])).code === 0, { intervalMs: 20 })
    },
    current,
    exits: async () => parseDeathTally((await run("s6-svdt", [dir])).stdout),
    // s6 has no stop hook: the marker first (as `hermes gateway stop` does for s6), then down.
    plannedStop: async () => {
      const gateway = await current()
      if (gateway !== undefined) {
        const mark = await hermes(["gateway", "stop", "--mark-only", `--pid=${gateway.pid}`, "--home", home.dir])
        if (mark.code !== 0) throw new Error(`mark-only exited ${mark.code}: ${mark.stdout}${mark.stderr}`)
      }
      await runOk("s6-svc", ["-d", dir])
    },
    gatewayLog: () => svscan?.log() ?? ""
  }
}

export const s6: SupervisorUnderTest = {
  name: "s6",
  binaries: ["s6-svscan", "s6-svc", "s6-svstat", "s6-svok", "s6-svdt"],
  // s6-supervise waits at least 1 s between two starts of a service.
  restartWindowMs: 2_500,
  prepare: prepareS6
}
