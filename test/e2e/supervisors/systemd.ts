// systemd: a private *user* manager per test, never the host's system manager (see
// ../shared/notes/supervisors.md). The launcher moves itself into dedicated cgroups (every hierarchy
// but cpuset, below the cgroups this test already runs in), enters a private mount namespace, puts a
// tmpfs on /run/systemd (all that sd_booted() checks) and a FIFO on /dev/kmsg (the manager's log),
// and execs `systemd --user` with XDG_RUNTIME_DIR, XDG_CONFIG_HOME, HOME, ... inside the scratch
// dir. It is driven from outside with `systemctl --user` and the same XDG_RUNTIME_DIR. Teardown:
// `systemctl --user exit`, SIGKILL of what is left in the tree, then the cgroups removed depth first.
import * as fs from "node:fs"
import * as path from "node:path"
import type { Exit, Service, Setup, SupervisorUnderTest } from "./conformance.js"
import { exitCode, killedBy } from "./conformance.js"
import { installDefinition } from "./definitions.js"
import {
  cleanEnv,
  type Daemon,
  hermesJs,
  incarnationOf,
  killTree,
  readText,
  run,
  runOk,
  type Scratch,
  signalIncarnation,
  startDaemon,
  waitFor,
  within
} from "./support.js"

export const systemdBinary = "/usr/lib/systemd/systemd"

// ---------------------------------------------------------------------------------------------
// Dedicated cgroups

interface CgroupMount {
  readonly point: string
  readonly version: 1 | 2
  readonly controllers: ReadonlyArray<string>
}

const cgroupMounts = (): Array<CgroupMount> =>
  fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").flatMap((line): Array<CgroupMount> => {
    const [before, after] = line.split(" - ")
    if (before === undefined || after === undefined) return []
    const point = before.split(" ")[4]!.replace(/\\040/g, " ")
    const [type, , superOptions] = after.split(" ")
    if (type === "cgroup2") return [{ point, version: 2, controllers: [] }]
    if (type === "cgroup") return [{ point, version: 1, controllers: (superOptions ?? "").split(",") }]
    return []
  })

/** Where this process sits in each hierarchy the manager will use (cpuset excluded: its children need cpus/mems set). */
const ownCgroups = (): Array<string> => {
  const mounts = cgroupMounts()
  return fs.readFileSync("/proc/self/cgroup", "utf8").split("\n").filter((l) => l !== "").flatMap((line) => {
    const [id, controllers, ...rest] = line.split(":")
    const at = rest.join(":")
    const wanted = (controllers ?? "").split(",").filter((c) => c !== "")
    if (wanted.includes("cpuset")) return []
    const mount = id === "0"
      ? mounts.find((m) => m.version === 2)
      : mounts.find((m) => m.version === 1 && wanted.every((c) => m.controllers.includes(c)))
    return mount === undefined ? [] : [path.join(mount.point, at)]
  })
}

let cgroupCounter = 0

/**
 * Creates <own cgroup>/hermes-e2e-<pid>-<n>/user@0.service in every hierarchy. The inner name is
 * the one a real user manager runs in, so the gateway's supervisor detection sees a user unit.
 */
const createCgroups = (): { readonly roots: Array<string>; readonly leaves: Array<string> } => {
  sweepStaleCgroups()
  const name = `hermes-e2e-${process.pid}-${++cgroupCounter}`
  const roots: Array<string> = []
  const leaves: Array<string> = []
  try {
    for (const parent of ownCgroups()) {
      const root = path.join(parent, name)
      fs.mkdirSync(root)
      roots.push(root)
      const leaf = path.join(root, "user@0.service")
      fs.mkdirSync(leaf)
      leaves.push(leaf)
    }
  } catch (error) {
    removeCgroups(roots)
    throw error
  }
  return { roots, leaves }
}

const subdirectoriesDepthFirst = (dir: string): Array<string> => {
  const found: Array<string> = []
  let entries: Array<fs.Dirent> = []
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return found
  }
  for (const entry of entries) if (entry.isDirectory()) found.push(...subdirectoriesDepthFirst(path.join(dir, entry.name)))
  found.push(dir)
  return found
}

/**
 * Removes the cgroups depth first. A process still inside one can only be something this test
 * started (processes inherit their cgroup from the launcher): it is SIGKILLed so the rmdir can succeed.
 */
const removeCgroups = (roots: ReadonlyArray<string>): void => {
  const problems: Array<string> = []
  for (const root of roots) {
    for (const dir of subdirectoriesDepthFirst(root)) {
      for (let attempt = 0; ; attempt++) {
        try {
          fs.rmdirSync(dir)
          break
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOENT") break
          if (attempt >= 50) {
            problems.push(`${dir}: ${(error as Error).message}`)
            break
          }
          for (const dirProc of subdirectoriesDepthFirst(dir)) {
            for (const pid of readText(path.join(dirProc, "cgroup.procs")).split("\n").filter((l) => l !== "")) {
              const incarnation = incarnationOf(Number(pid))
              if (incarnation !== undefined) signalIncarnation(incarnation, "SIGKILL")
            }
          }
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
        }
      }
    }
  }
  if (problems.length > 0) throw new Error(`could not remove cgroups:\n${problems.join("\n")}`)
}

/** Empty cgroups left by a run whose worker died before its teardown (never ones with processes). */
const sweepStaleCgroups = (): void => {
  for (const parent of ownCgroups()) {
    let entries: Array<string> = []
    try {
      entries = fs.readdirSync(parent)
    } catch {
      continue
    }
    for (const entry of entries) {
      const match = /^hermes-e2e-(\d+)-\d+$/.exec(entry)
      if (match === null || incarnationOf(Number(match[1])) !== undefined) continue
      for (const dir of subdirectoriesDepthFirst(path.join(parent, entry))) {
        try {
          fs.rmdirSync(dir)
        } catch {
          // busy: something still runs there; left for a human, never killed blindly
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The manager

const launcherScript = `#!/bin/bash
# Moves itself into the dedicated cgroups, then becomes a private systemd user manager inside a
# private mount namespace: a tmpfs on /run/systemd (so sd_booted() is true there only) and the log
# FIFO bound over /dev/kmsg. The host's /run/systemd and /dev/kmsg are untouched.
set -eu
kmsg=$1
shift
for dir in "$@"; do echo $$ > "$dir/cgroup.procs"; done
export HERMES_E2E_KMSG="$kmsg"
exec unshare --mount --propagation private -- /bin/bash -c '
  mount -t tmpfs -o mode=0755 tmpfs /run/systemd &&
  mkdir /run/systemd/system &&
  mount --bind "$HERMES_E2E_KMSG" /dev/kmsg &&
  unset HERMES_E2E_KMSG &&
  level=\${HERMES_E2E_SYSTEMD_LOG_LEVEL:-info} &&
  unset HERMES_E2E_SYSTEMD_LOG_LEVEL &&
  exec ${systemdBinary} --user --log-target=kmsg --log-level=\$level'
`

/** Units of the host's user-unit directories that a bare manager would start for nothing: masked. */
const noiseUnits = (): Array<string> => {
  const wants = ["/usr/lib/systemd/user/sockets.target.wants", "/etc/systemd/user/sockets.target.wants"]
    .flatMap((dir) => {
      try {
        return fs.readdirSync(dir)
      } catch {
        return []
      }
    })
  return [...new Set([...wants, "systemd-tmpfiles-setup.service", "systemd-tmpfiles-clean.timer", "systemd-tmpfiles-clean.service"])]
}

export class UserManager {
  private constructor(
    readonly scratch: Scratch,
    readonly dirs: Readonly<Record<string, string>>,
    readonly launcher: Daemon,
    readonly managerLog: string
  ) {}

  get configDir(): string {
    return this.dirs.XDG_CONFIG_HOME!
  }

  /**
   * The environment `systemctl --user` needs to reach this manager (XDG_RUNTIME_DIR) and to find
   * its unit files for enable/disable, which systemctl resolves itself (XDG_CONFIG_HOME, ...).
   */
  get env(): NodeJS.ProcessEnv {
    return cleanEnv(this.dirs)
  }

  systemctl(args: ReadonlyArray<string>, timeoutMs = 30_000) {
    return run("systemctl", ["--user", ...args], { env: this.env, timeoutMs })
  }

  systemctlOk(args: ReadonlyArray<string>, timeoutMs = 30_000) {
    return runOk("systemctl", ["--user", ...args], { env: this.env, timeoutMs })
  }

  async show(unit: string, properties: ReadonlyArray<string>): Promise<Record<string, string>> {
    const result = await this.systemctlOk(["show", unit, ...properties.map((p) => `--property=${p}`)])
    return Object.fromEntries(result.stdout.split("\n").filter((l) => l.includes("=")).map((l) => {
      const at = l.indexOf("=")
      return [l.slice(0, at), l.slice(at + 1)]
    }))
  }

  static async start(scratch: Scratch): Promise<UserManager> {
    const runtimeDir = scratch.mkdir("xdg-runtime")
    const dirs = {
      XDG_RUNTIME_DIR: runtimeDir,
      XDG_CONFIG_HOME: scratch.mkdir("xdg-config"),
      XDG_DATA_HOME: scratch.mkdir("xdg-data"),
      XDG_STATE_HOME: scratch.mkdir("xdg-state"),
      XDG_CACHE_HOME: scratch.mkdir("xdg-cache"),
      HOME: scratch.mkdir("user-home")
    }
    const maskDir = scratch.mkdir("xdg-runtime", "systemd", "user")
    for (const unit of noiseUnits()) fs.symlinkSync("/dev/null", path.join(maskDir, unit))

    const cgroups = createCgroups()
    scratch.defer("remove the dedicated cgroups", () => removeCgroups(cgroups.roots))

    // The manager's log: a FIFO bound over /dev/kmsg inside its namespace. The reader holds it open
    // read-write so it never sees EOF and a writer never blocks for want of a reader.
    const kmsg = scratch.path("manager.kmsg")
    await runOk("mkfifo", ["-m", "0600", kmsg])
    const managerLog = scratch.path("manager.log")
    const reader = startDaemon("/bin/bash", ["-c", "exec 3<>\"$0\" && exec cat <&3", kmsg], { env: cleanEnv(), logFile: managerLog })
    scratch.defer("stop the manager log reader", () => killTree(reader.incarnation))

    const script = scratch.path("launch-systemd-user.sh")
    fs.writeFileSync(script, launcherScript, { mode: 0o700 })
    const launcher = startDaemon("/bin/bash", [script, kmsg, ...cgroups.leaves], {
      env: cleanEnv({ ...dirs, ...levelOverride() }),
      logFile: scratch.path("launcher.log")
    })
    const manager = new UserManager(scratch, dirs, launcher, managerLog)
    scratch.defer("stop the user manager", () => manager.stop())
    scratch.describeWith(() => `--- systemd user manager log ---\n${readText(managerLog).split("\n").slice(-40).join("\n")}`)
    scratch.describeWith(() => `--- launcher output ---\n${readText(scratch.path("launcher.log"))}`)

    await waitFor("the private systemd user manager", async () => {
      if (!launcher.alive()) throw new Error(`the launcher exited: ${readText(scratch.path("launcher.log"))}`)
      if (!fs.existsSync(path.join(runtimeDir, "systemd", "private"))) return false
      return (await manager.systemctl(["is-active", "default.target"], 5_000)).stdout.trim() === "active"
    }, { timeoutMs: 15_000, intervalMs: 50, context: () => readText(managerLog) })
    return manager
  }

  async stop(): Promise<void> {
    if (!this.launcher.alive()) return
    await this.systemctl(["exit"], 5_000).catch(() => undefined)
    try {
      await within(10_000, "the user manager's exit", this.launcher.exited)
    } catch {
      await killTree(this.launcher.incarnation)
      await within(5_000, "the user manager after SIGKILL", this.launcher.exited)
    }
  }
}

const levelOverride = (): Record<string, string> =>
  process.env.HERMES_E2E_SYSTEMD_LOG_LEVEL !== undefined
    ? { HERMES_E2E_SYSTEMD_LOG_LEVEL: process.env.HERMES_E2E_SYSTEMD_LOG_LEVEL }
    : {}

// ---------------------------------------------------------------------------------------------
// The gateway unit

/** `$SERVICE_RESULT $EXIT_CODE $EXIT_STATUS` lines recorded by ExecStopPost= after each exit. */
const parseExits = (text: string): Array<Exit> =>
  text.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const [, code, status] = line.trim().split(/\s+/)
    return code === "exited" ? exitCode(Number(status)) : killedBy(`SIG${status}`)
  })

/** The `$SERVICE_RESULT` systemd handed ExecStopPost= at each exit (what OnFailure= units act on), oldest first. */
const parseResults = (text: string): Array<string> =>
  text.split("\n").filter((l) => l.trim() !== "").map((line) => line.trim().split(/\s+/)[0]!)

export interface SystemdService extends Service {
  readonly manager: UserManager
  readonly unit: string
  /** `$SERVICE_RESULT` of each exit, oldest first. */
  readonly results: () => ReadonlyArray<string>
  /** Adds a drop-in of the test's own (name without .conf) and reloads the manager. */
  readonly addDropIn: (name: string, lines: ReadonlyArray<string>) => Promise<void>
}

/**
 * Installs the generated user unit where the manager reads the user's units ($XDG_CONFIG_HOME/
 * systemd/user, install's own default), adds an observation drop-in (output to a file, since there
 * is no journal, and an ExecStopPost= that records each exit; nothing that changes behaviour), and
 * enables it (`enable`, like the operator's `enable --now`), which also keeps systemd from
 * garbage-collecting the unit's results once it is inactive.
 */
export const prepareSystemd = async ({ scratch, home }: Setup): Promise<SystemdService> => {
  const manager = await UserManager.start(scratch)
  const definition = await installDefinition("systemd", { home: home.dir, outDir: path.join(manager.configDir, "systemd", "user") })
  const unitFile = definition.only(/\.service$/)
  const unit = path.basename(unitFile.path)
  const killSeconds = /^TimeoutStopSec=(\d+)s?$/m.exec(unitFile.content)
  if (killSeconds === null) throw new Error(`no TimeoutStopSec= in the generated unit:\n${unitFile.content}`)

  const gatewayLog = scratch.path("gateway.log")
  const exitsFile = scratch.path("exits")
  const dropIn = scratch.mkdir("xdg-runtime", "systemd", "user", `${unit}.d`)
  fs.writeFileSync(path.join(dropIn, "e2e-observe.conf"), [
    "# Added by the e2e suite: observation only.",
    "[Service]",
    `StandardOutput=append:${gatewayLog}`,
    `StandardError=append:${gatewayLog}`,
    `ExecStopPost=/bin/sh -c 'echo "$$SERVICE_RESULT $$EXIT_CODE $$EXIT_STATUS" >> ${exitsFile}'`,
    ""
  ].join("\n"))
  // enable, then reload: default.target's Wants= on the unit is what keeps it loaded while inactive.
  await manager.systemctlOk(["enable", unit])
  await manager.systemctlOk(["daemon-reload"])
  scratch.describeWith(() => `--- recorded exits ---\n${readText(exitsFile)}`)

  const service: SystemdService = {
    manager,
    unit,
    killTimeoutMs: Number(killSeconds[1]) * 1000,
    start: async () => {
      await manager.systemctlOk(["start", "--no-block", unit])
    },
    current: async () => {
      const { MainPID } = await manager.show(unit, ["MainPID"])
      return incarnationOf(Number(MainPID))
    },
    // A scenario's gateway is up once systemd processed READY=1 (a stop while still activating has
    // its own test: sd-stop-starting).
    ready: async () => (await manager.show(unit, ["ActiveState"])).ActiveState === "active",
    exits: async () => parseExits(readText(exitsFile)),
    results: () => parseResults(readText(exitsFile)),
    addDropIn: async (name, lines) => {
      fs.writeFileSync(path.join(dropIn, `${name}.conf`), [...lines, ""].join("\n"))
      await manager.systemctlOk(["daemon-reload"])
    },
    plannedStop: async () => {
      await manager.systemctlOk(["stop", unit], 120_000)
    },
    gatewayLog: () => readText(gatewayLog),
    // An operator's shell on this host reaches this manager through XDG_RUNTIME_DIR.
    operator: (args) => run(process.execPath, [hermesJs, ...args], { env: manager.env }),
    afterPlannedStop: async () => {
      const shown = await manager.show(unit, ["ActiveState", "Result", "ExecMainCode", "ExecMainStatus", "NRestarts", "ExecMainExitTimestamp"])
      // inactive, not failed: exit 0 is a success for systemd, and nothing restarted it. The exit
      // timestamp proves these are the unit's own results, not the defaults of a garbage-collected unit.
      expectEqual(shown, { ActiveState: "inactive", Result: "success", ExecMainCode: "1", ExecMainStatus: "0", NRestarts: "0" })
      if (shown.ExecMainExitTimestamp === "") throw new Error(`no ExecMainExitTimestamp: ${JSON.stringify(shown)}`)
    },
    afterRestart: async () => {
      // Exit 75 is a success (SuccessExitStatus=75) that systemd restarted by itself
      // (RestartForceExitStatus=75): NRestarts counts it, and the result it recorded at the exit is
      // success, not exit-code. Result is read back too, though a start resets it.
      const shown = await manager.show(unit, ["ActiveState", "Result", "NRestarts"])
      const exits = readText(exitsFile).trim().split("\n")
      expectEqual({ ...shown, lastExit: exits.at(-1) ?? "" }, { ActiveState: "active", Result: "success", lastExit: "success exited 75" })
      if (!(Number(shown.NRestarts) >= 1)) throw new Error(`NRestarts did not grow: ${JSON.stringify(shown)}`)
    },
    duringLongDrain: async () => {
      const shown = await manager.show(unit, ["ActiveState", "SubState", "StatusText", "Result"])
      if (shown.ActiveState !== "deactivating" || !/draining/.test(shown.StatusText ?? "")) {
        throw new Error(`expected the unit deactivating with a draining status, got ${JSON.stringify(shown)}`)
      }
    }
  }
  return service
}

const expectEqual = (actual: Record<string, string>, expected: Record<string, string>): void => {
  const wrong = Object.entries(expected).filter(([key, value]) => actual[key] !== value)
  if (wrong.length > 0) {
    throw new Error(`systemctl show: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
  }
}

export const systemdUser: SupervisorUnderTest = {
  name: "systemd",
  binaries: ["systemctl", "systemd-notify", "unshare", "mount", "mkfifo", systemdBinary],
  // RestartSec=2s in the generated unit, then a start.
  restartWindowMs: 3_500,
  extendsKillTimeout: true,
  alsoProves: { "1": ["sd-stop"], "5": ["sd-extend"] },
  prepare: prepareSystemd
}
