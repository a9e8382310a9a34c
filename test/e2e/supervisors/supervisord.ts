// supervisord: a private instance per test (`supervisord -n -c CONF`) with its own unix socket, log
// and pid file in the scratch dir, including the program file `hermes gateway install --manager
// supervisord` wrote. supervisorctl always gets `-c CONF` (without it, it would talk to a system
// instance). Exits are read from supervisord's own log ("exited: NAME (exit status N; expected)").
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import type { Exit, Service, Setup, SupervisorUnderTest } from "./conformance.js"
import { exitCode, killedBy } from "./conformance.js"
import { installDefinition } from "./definitions.js"
import { cleanEnv, type Daemon, hermes, incarnationOf, killTree, readText, run, startDaemon, waitFor, within } from "./support.js"

const parseSupervisordLog = (text: string, program: string): Array<Exit> =>
  text.split("\n").flatMap((line) => {
    const match = /\b(?:exited|stopped): (\S+) \((?:exit status (\d+)|terminated by (SIG\w+))/.exec(line)
    if (match === null || match[1] !== program) return []
    return [match[2] !== undefined ? exitCode(Number(match[2])) : killedBy(match[3]!)]
  })

/** One XML-RPC call to supervisord's unix socket (the interface supervisorctl uses). */
const xmlRpc = (socketPath: string, method: string, params: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const body = `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>` +
      params.map((p) => `<param><value><string>${p}</string></value></param>`).join("") + "</params></methodCall>"
    const request = http.request({
      socketPath,
      path: "/RPC2",
      method: "POST",
      headers: { "content-type": "text/xml", "content-length": Buffer.byteLength(body) },
      timeout: 5_000
    }, (response) => {
      let text = ""
      response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () => resolve(text))
    })
    request.on("error", reject)
    request.on("timeout", () => request.destroy(new Error(`${method}: no answer from supervisord`)))
    request.end(body)
  })

export interface SupervisordService extends Service {
  /** The generated program file supervisord includes (read when supervisord starts). */
  readonly programFile: string
}

export const prepareSupervisord = async ({ scratch, home }: Setup): Promise<SupervisordService> => {
  const programs = scratch.mkdir("supervisor.d")
  const definition = await installDefinition("supervisord", { home: home.dir, outDir: programs })
  const file = definition.only(/\.conf$/).content
  const program = /^\[program:([^\]]+)\]/m.exec(file)?.[1]
  const stopwait = /^stopwaitsecs=(\d+)/m.exec(file)?.[1]
  const stderrLog = /^stderr_logfile=(.+)$/m.exec(file)?.[1]
  if (program === undefined || stopwait === undefined) throw new Error(`unexpected supervisord program file:\n${file}`)

  const conf = scratch.path("supervisord.conf")
  const socket = scratch.path("supervisor.sock")
  const log = scratch.path("supervisord.log")
  fs.writeFileSync(conf, [
    "[unix_http_server]",
    `file=${socket}`,
    "chmod=0700",
    "[supervisord]",
    `logfile=${log}`,
    "logfile_maxbytes=0",
    "loglevel=info",
    `pidfile=${scratch.path("supervisord.pid")}`,
    `childlogdir=${scratch.mkdir("childlogs")}`,
    "nodaemon=true",
    "[rpcinterface:supervisor]",
    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    "[supervisorctl]",
    `serverurl=unix://${socket}`,
    "[include]",
    `files = ${path.join(programs, "*.conf")}`,
    ""
  ].join("\n"))
  const ctl = (args: ReadonlyArray<string>, timeoutMs?: number) =>
    run("supervisorctl", ["-c", conf, ...args], { env: cleanEnv(), ...(timeoutMs !== undefined ? { timeoutMs } : {}) })

  let supervisord: Daemon | undefined
  // Polled often: supervisord's XML-RPC on its socket, not a Python supervisorctl per poll.
  const current = async () => {
    const info = await xmlRpc(socket, "supervisor.getProcessInfo", [program])
    return incarnationOf(Number(/<name>pid<\/name>\s*<value><int>(\d+)<\/int>/.exec(info)?.[1] ?? 0))
  }
  scratch.describeWith(() => `--- supervisord log ---\n${readText(log)}`)

  return {
    programFile: path.join(programs, definition.only(/\.conf$/).path),
    killTimeoutMs: Number(stopwait) * 1000,
    start: async () => {
      if (supervisord !== undefined) {
        const started = await ctl(["start", program])
        if (started.code !== 0 && !/already started/.test(started.stdout)) throw new Error(`supervisorctl start: ${started.stdout}${started.stderr}`)
        return
      }
      const daemon = startDaemon("supervisord", ["-n", "-c", conf], { env: cleanEnv(), logFile: scratch.path("supervisord.out") })
      supervisord = daemon
      scratch.defer("stop supervisord and its programs", async () => {
        await killTree(daemon.incarnation)
        await within(5_000, "supervisord's exit", daemon.exited)
      })
      // status exits 0 (all running) or 3 (some not running) once the socket answers.
      await waitFor("supervisord's socket", async () => [0, 3].includes((await ctl(["status"])).code ?? -1), { intervalMs: 100 })
    },
    current,
    exits: async () => parseSupervisordLog(readText(log), program),
    // supervisord has no stop hook: the marker first (as `hermes gateway stop` does), then stop.
    plannedStop: async () => {
      const gateway = await current()
      if (gateway !== undefined) {
        const mark = await hermes(["gateway", "stop", "--mark-only", `--pid=${gateway.pid}`, "--home", home.dir])
        if (mark.code !== 0) throw new Error(`mark-only exited ${mark.code}: ${mark.stdout}${mark.stderr}`)
      }
      await ctl(["stop", program], (Number(stopwait) + 30) * 1000)
    },
    gatewayLog: () => (stderrLog !== undefined ? readText(stderrLog) : "")
  }
}

export const supervisord: SupervisorUnderTest = {
  name: "supervisord",
  binaries: ["supervisord", "supervisorctl"],
  // No restart delay in supervisord; a start takes under a second.
  restartWindowMs: 2_500,
  prepare: prepareSupervisord
}
