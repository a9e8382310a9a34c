// runit: a private `runsvdir -P` per test on a service directory in the scratch dir, holding the
// service that `hermes gateway install --manager runit` wrote (run, finish, control/t). runit keeps
// no record of exit codes, so the generated finish is moved aside and called by a two-line finish
// that first appends its arguments to a file: observation only, the generated script decides.
// `sv` always gets the absolute service path (a bare name means /etc/service/NAME).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Exit, Service, Setup, SupervisorUnderTest } from "./conformance.js"
import { exitCode, killedBy } from "./conformance.js"
import { installDefinition } from "./definitions.js"
import { cleanEnv, type Daemon, incarnationOf, killTree, readText, run, runOk, startDaemon, waitFor, within } from "./support.js"

/** finish's arguments: the exit code, or -1 and the wait status' low byte (the signal) when killed. */
const parseFinishArguments = (text: string): Array<Exit> =>
  text.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const [code, status] = line.trim().split(/\s+/).map(Number)
    if (code !== -1) return exitCode(code!)
    const signal = Object.entries(os.constants.signals).find(([, n]) => n === (status! & 0x7f))?.[0]
    return killedBy(signal ?? `signal ${status}`)
  })

export const prepareRunit = async ({ scratch, home }: Setup): Promise<Service> => {
  const svdir = scratch.mkdir("service")
  const dir = path.join(svdir, "hermes-gateway")
  const definition = await installDefinition("runit", { home: home.dir, outDir: dir })
  // runit has no kill timeout of its own; the definition names the bounded stop to use.
  const bounded = /sv -w (\d+) force-stop/.exec(definition.read("run"))
  if (bounded === null) throw new Error(`the runit run script names no \`sv -w N force-stop\`:\n${definition.read("run")}`)
  const killSeconds = Number(bounded[1])

  const exitsFile = scratch.path("exits")
  fs.renameSync(path.join(dir, "finish"), path.join(dir, "finish.generated"))
  fs.writeFileSync(path.join(dir, "finish"), [
    "#!/bin/sh",
    "# Added by the e2e suite: records the exit, then runs the generated finish unchanged.",
    `echo "$1 $2" >> '${exitsFile}'`,
    "exec ./finish.generated \"$@\"",
    ""
  ].join("\n"), { mode: 0o755 })

  const log = scratch.path("runsvdir.log")
  let runsvdir: Daemon | undefined
  const current = async () => {
    const status = await run("sv", ["status", dir])
    const running = /^run: .*?\(pid (\d+)\)/.exec(status.stdout)
    return running !== null ? incarnationOf(Number(running[1])) : undefined
  }

  return {
    killTimeoutMs: killSeconds * 1000,
    start: async () => {
      if (runsvdir !== undefined) {
        await runOk("sv", ["up", dir])
        return
      }
      const daemon = startDaemon("runsvdir", ["-P", svdir], { env: cleanEnv(), logFile: log })
      runsvdir = daemon
      // runsvdir puts each runsv in its own process group; all are still its descendants.
      scratch.defer("stop runsvdir and its services", async () => {
        await killTree(daemon.incarnation)
        await within(5_000, "runsvdir's exit", daemon.exited)
      })
      await waitFor("runsv for the service", () => fs.existsSync(path.join(dir, "supervise", "ok")), { intervalMs: 20 })
    },
    current,
    exits: async () => parseFinishArguments(readText(exitsFile)),
    // control/t writes the marker (the service is wanted down by then), runsv sends TERM.
    plannedStop: async () => {
      await runOk("sv", ["down", dir])
    },
    // The same, bounded: sv waits N seconds, then has runsv SIGKILL the gateway.
    boundedStop: async () => {
      await run("sv", ["-w", String(killSeconds), "force-stop", dir], { timeoutMs: (killSeconds + 30) * 1000 })
    },
    gatewayLog: () => runsvdir?.log() ?? ""
  }
}

export const runit: SupervisorUnderTest = {
  name: "runit",
  binaries: ["runsvdir", "runsv", "sv"],
  // runsv waits 1 s before restarting a service that ran for less than a second.
  restartWindowMs: 2_500,
  budgetUnreadable: "runit has no kill timeout of its own (`sv -w N force-stop` is the operator's); nothing to read",
  prepare: prepareRunit
}
