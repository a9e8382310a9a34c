// Container stand-ins, without a container engine: a "container" is `unshare --pid --fork
// --mount-proc [init --] command` (its own pid namespace and /proc; the host's filesystem and
// network), and a small runtime plays the engine's part from the generated definition: its restart
// policy and backoff, `exec` (nsenter into the namespace), and stop = [preStop], the stop signal to
// the container's PID 1, the grace period, SIGKILL. Docker stand-ins (tini, dumb-init) read
// Dockerfile + compose.yaml; the Kubernetes runner reads the Deployment.
//
// Image paths are the only thing translated: the bundle's path in the image becomes dist/hermes.js,
// the home volume becomes the test's home, `node` becomes this node. The definitions' network
// settings (HERMES_ADAPTERS_HTTP_HOST=0.0.0.0 and its API key) are left out: there is no network
// namespace here, and the gateway stays on loopback instead of listening on every interface of
// the test machine.
//
// Pids: inside the namespace the gateway has another pid (1 when node is PID 1, as in the
// Kubernetes definition; 2 under tini or dumb-init), and gateway.pid holds that one. A stop hook
// run from the host with it would name a host process (pid 1 is the host's init). So, as with
// `docker exec` and the kubelet's preStop, the marker is written by `hermes gateway stop
// --mark-only` run INSIDE the namespace (nsenter --pid --mount: its /proc is the container's), with
// the namespace pid; the suite checks that pid against gateway.pid and NSpid of the host pid.
import * as fs from "node:fs"
import { parseAllDocuments, parse as parseYaml } from "yaml"
import type { Exit, Service, Setup, SupervisorUnderTest } from "./conformance.js"
import { exitCode, killedBy } from "./conformance.js"
import { installDefinition } from "./definitions.js"
import {
  childrenOf,
  cleanEnv,
  commandLineOf,
  type Daemon,
  hermesJs,
  type Incarnation,
  killTree,
  namespacePidOf,
  readText,
  run,
  type RunResult,
  type Scratch,
  signalIncarnation,
  sleep,
  startDaemon,
  within
} from "./support.js"

export type RestartPolicy = "no" | "always" | "unless-stopped" | "on-failure"

export interface ContainerSpec {
  /** The container's init, e.g. ["tini", "--"]; empty when the command itself is PID 1. */
  readonly init: ReadonlyArray<string>
  readonly command: ReadonlyArray<string>
  readonly env: NodeJS.ProcessEnv
  readonly restart: RestartPolicy
  /** Delay before the n-th restart (n from 0). */
  readonly backoffMs: (restarts: number) => number
  readonly stopSignal: NodeJS.Signals
  readonly graceMs: number
  /** Kubernetes' preStop exec hook, run inside the container before the stop signal. */
  readonly preStop?: ReadonlyArray<string>
}

/** The engine's part for one container (one name), across its restarts. */
export class ContainerRuntime {
  private current: { readonly daemon: Daemon; killedByRuntime: boolean } | undefined
  private readonly recorded: Array<Exit> = []
  private operatorStopped = false
  private removed = false
  private restarts = 0
  private timer: NodeJS.Timeout | undefined

  readonly logFile: string

  constructor(scratch: Scratch, private readonly spec: ContainerSpec) {
    this.logFile = scratch.path("container.log")
    scratch.defer("remove the container", () => this.remove())
  }

  get exits(): ReadonlyArray<Exit> {
    return this.recorded
  }

  /** `docker start` / the pod created. */
  start(): void {
    this.operatorStopped = false
    this.launch()
  }

  private launch(): void {
    if (this.removed) return
    const daemon = startDaemon(
      "unshare",
      // --kill-child: should unshare itself die, the container's PID 1 (and so the namespace) dies too.
      ["--pid", "--fork", "--mount-proc", "--kill-child", ...this.spec.init, ...this.spec.command],
      { env: this.spec.env, logFile: this.logFile }
    )
    const current = { daemon, killedByRuntime: false }
    this.current = current
    void daemon.exited.then(({ code }) => {
      this.recorded.push(current.killedByRuntime ? killedBy("SIGKILL") : exitCode(code ?? -1))
      if (this.removed || this.operatorStopped || !this.restartsAfter(code ?? -1)) return
      this.timer = setTimeout(() => this.launch(), this.spec.backoffMs(this.restarts++))
    })
  }

  private restartsAfter(code: number): boolean {
    switch (this.spec.restart) {
      case "no":
        return false
      case "on-failure":
        return code !== 0
      case "always":
      case "unless-stopped":
        return true
    }
  }

  /** The container's PID 1, by host pid. */
  pid1(): Incarnation | undefined {
    const current = this.current
    if (current === undefined || !current.daemon.alive()) return undefined
    return childrenOf(current.daemon.incarnation.pid)[0]
  }

  /** The gateway, by host pid: PID 1 itself, or the child of the init that runs the bundle. */
  gateway(): Incarnation | undefined {
    const pid1 = this.pid1()
    if (pid1 === undefined || this.spec.init.length === 0) return pid1
    return childrenOf(pid1.pid).find((child) => commandLineOf(child.pid).includes(hermesJs))
  }

  /** `docker exec` / the kubelet's exec: the command inside the container's pid and mount namespaces. */
  exec(argv: ReadonlyArray<string>, timeoutMs = 30_000): Promise<RunResult> {
    const pid1 = this.pid1()
    if (pid1 === undefined) return Promise.reject(new Error("exec: the container is not running"))
    return run("nsenter", ["--target", String(pid1.pid), "--pid", "--mount", "--", ...argv], { env: this.spec.env, timeoutMs })
  }

  /**
   * `docker stop` / the pod deleted: [preStop], the stop signal to PID 1, at most the grace period
   * (the preStop hook's time counts against it), then SIGKILL. Nothing is restarted afterwards.
   */
  async stop(): Promise<void> {
    this.operatorStopped = true
    clearTimeout(this.timer)
    const current = this.current
    if (current === undefined || !current.daemon.alive()) return
    const started = Date.now()
    if (this.spec.preStop !== undefined) {
      await within(this.spec.graceMs, "the preStop hook", this.exec(this.spec.preStop, this.spec.graceMs)).catch(() => undefined)
    }
    const pid1 = this.pid1()
    if (pid1 !== undefined) signalIncarnation(pid1, this.spec.stopSignal)
    const left = Math.max(0, this.spec.graceMs - (Date.now() - started))
    const exited = await Promise.race([current.daemon.exited.then(() => true), sleep(left).then(() => false)])
    if (!exited) {
      const stillThere = this.pid1()
      current.killedByRuntime = stillThere !== undefined && signalIncarnation(stillThere, "SIGKILL")
      await current.daemon.exited
    }
  }

  private async remove(): Promise<void> {
    this.removed = true
    clearTimeout(this.timer)
    const current = this.current
    if (current === undefined || !current.daemon.alive()) return
    await killTree(current.daemon.incarnation)
    await within(5_000, "the container's exit", current.daemon.exited)
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the generated definitions

/** Maps image paths to host paths, word by word. */
const hostPaths = (imageEntry: string, imageHome: string, home: string) => (word: string): string =>
  word === "node" ? process.execPath : word === imageEntry ? hermesJs : word === imageHome ? home : word

/** What only makes sense with a network namespace of its own (see the header). */
const networkOnly = new Set(["HERMES_ADAPTERS_HTTP_HOST", "HERMES_ADAPTERS_HTTP_API_KEY"])

const containerEnv = (entries: ReadonlyArray<readonly [string, string]>, map: (word: string) => string): NodeJS.ProcessEnv =>
  cleanEnv(Object.fromEntries(entries.filter(([key]) => !networkOnly.has(key)).map(([key, value]) => [key, map(value)])))

/** Docker's duration syntax (compose stop_grace_period): 1m30s, 10s, 500ms. */
const goDurationMs = (text: string): number => {
  let total = 0
  for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(value) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit!]!
  }
  return total
}

const dockerfileArray = (dockerfile: string, instruction: string): Array<string> | undefined => {
  const line = new RegExp(`^${instruction}\\s+(\\[.*\\])\\s*$`, "m").exec(dockerfile)
  return line === null ? undefined : (JSON.parse(line[1]!) as Array<string>)
}

/** The docker definition (Dockerfile + compose.yaml) as a ContainerSpec for `init`. */
export const dockerSpec = async (setup: Setup, init: ReadonlyArray<string>): Promise<ContainerSpec> => {
  const definition = await installDefinition("docker", { home: setup.home.dir, outDir: setup.scratch.mkdir("docker") })
  const dockerfile = definition.read("Dockerfile")
  const compose = parseYaml(definition.read("compose.yaml")) as { services: Record<string, Record<string, any>> }
  const service = Object.values(compose.services)[0]!
  const imageEntry = dockerfileArray(dockerfile, "COPY --from=bundle")?.[1] ?? "/app/hermes.js"
  const imageHome = dockerfileArray(dockerfile, "VOLUME")?.[0] ?? "/data"
  const map = hostPaths(imageEntry, imageHome, setup.home.dir)
  const entrypoint = dockerfileArray(dockerfile, "ENTRYPOINT") ?? []
  const cmd = dockerfileArray(dockerfile, "CMD") ?? []
  if (entrypoint.length + cmd.length === 0) throw new Error(`no ENTRYPOINT/CMD in the Dockerfile:\n${dockerfile}`)
  const imageEnv = [...(/^ENV\s+(.+)$/m.exec(dockerfile)?.[1] ?? "").matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!] as const)
  const composeEnv = Object.entries((service.environment ?? {}) as Record<string, string>).map(([k, v]) => [k, String(v)] as const)
  if (service.init !== true) throw new Error(`compose.yaml does not ask for an init (init: true); the stand-in runs ${init[0]}`)
  const restart = String(service.restart ?? "no").replace(/:.*/, "") as RestartPolicy
  const stopSignal = (service.stop_signal ?? /^STOPSIGNAL\s+(\S+)/m.exec(dockerfile)?.[1] ?? "SIGTERM") as NodeJS.Signals
  return {
    init,
    command: [...entrypoint, ...cmd].map(map),
    env: containerEnv([...imageEnv, ...composeEnv], map),
    restart,
    // docker: 100 ms, doubling with every restart.
    backoffMs: (n) => 100 * 2 ** n,
    stopSignal,
    // docker stop's default is 10 s.
    graceMs: service.stop_grace_period !== undefined ? goDurationMs(String(service.stop_grace_period)) : 10_000
  }
}

/** The Kubernetes Deployment's pod template as a ContainerSpec (node is PID 1: no init). */
export const kubernetesSpec = async (setup: Setup): Promise<ContainerSpec> => {
  const definition = await installDefinition("kubernetes", { home: setup.home.dir, outDir: setup.scratch.mkdir("kubernetes") })
  const documents = parseAllDocuments(definition.only(/\.ya?ml$/).content).map((d) => d.toJS() as Record<string, any>)
  const deployment = documents.find((d) => d?.kind === "Deployment")
  if (deployment === undefined) throw new Error("no Deployment in the kubernetes definition")
  const pod = deployment.spec.template.spec as Record<string, any>
  const container = pod.containers[0] as Record<string, any>
  const imageHome = (container.volumeMounts ?? [])[0]?.mountPath ?? "/data"
  const words = [...(container.command ?? []), ...(container.args ?? [])] as Array<string>
  const imageEntry = words.find((w) => w.endsWith(".js")) ?? "/app/hermes.js"
  const map = hostPaths(imageEntry, imageHome, setup.home.dir)
  const env = ((container.env ?? []) as Array<{ name: string; value?: string }>)
    .filter((e) => e.value !== undefined)
    .map((e) => [e.name, String(e.value)] as const)
  const restartPolicy = String(pod.restartPolicy ?? "Always")
  const preStop = container.lifecycle?.preStop?.exec?.command as Array<string> | undefined
  return {
    init: [],
    command: words.map(map),
    env: containerEnv(env, map),
    restart: restartPolicy === "Always" ? "always" : restartPolicy === "OnFailure" ? "on-failure" : "no",
    // kubelet: the first restart at once, then CrashLoopBackOff from 10 s, doubling, capped at 5 min.
    backoffMs: (n) => (n === 0 ? 0 : Math.min(300_000, 10_000 * 2 ** (n - 1))),
    stopSignal: "SIGTERM",
    graceMs: Number(pod.terminationGracePeriodSeconds ?? 30) * 1000,
    ...(preStop !== undefined ? { preStop: preStop.map(map) } : {})
  }
}

/** A Service over one container: the planned stop is the operator's (docker) or the kubelet's (pod deletion). */
export const containerService = (
  setup: Setup,
  spec: ContainerSpec,
  plannedStopMark: "exec mark-only" | "preStop"
): Service => {
  const runtime = new ContainerRuntime(setup.scratch, spec)
  setup.scratch.describeWith(() => `--- container exits ---\n${JSON.stringify(runtime.exits)}`)
  const markInside = async () => {
    const gateway = runtime.gateway()
    if (gateway === undefined) return
    // The gateway's pid in the container, as gateway.pid records it; from the host it is another.
    const inside = namespacePidOf(gateway.pid)
    const recorded = setup.home.readPidFile()?.pid
    if (inside === undefined || inside !== recorded) {
      throw new Error(`namespace pid ${inside} of host pid ${gateway.pid} does not match gateway.pid (${recorded})`)
    }
    const mark = await runtime.exec([process.execPath, hermesJs, "gateway", "stop", "--mark-only", `--pid=${inside}`, "--home", setup.home.dir])
    // A stop hook that marks is quiet; anything it has to say about a no-op goes to stderr.
    if (mark.code !== 0 || mark.stdout !== "" || !fs.existsSync(setup.home.plannedStop)) {
      throw new Error(`mark-only inside the container: exit ${mark.code}\n${mark.stdout}${mark.stderr}`)
    }
  }
  return {
    killTimeoutMs: spec.graceMs,
    start: async () => runtime.start(),
    current: async () => runtime.gateway(),
    exits: async () => runtime.exits,
    plannedStop: async () => {
      if (plannedStopMark === "exec mark-only") await markInside()
      await runtime.stop()
    },
    gatewayLog: () => readText(runtime.logFile),
    operator: (args) => runtime.exec([process.execPath, hermesJs, ...args]),
    insideContainer: true
  }
}

export const dockerStandIn = (name: string, init: ReadonlyArray<string>): SupervisorUnderTest => ({
  name,
  binaries: ["unshare", "nsenter", init[0]!],
  // docker's first restart comes after 100 ms.
  restartWindowMs: 2_500,
  restartsInvalidConfig: "compose `restart: unless-stopped` restarts exit 78 too (docker cannot exclude an exit code; " +
    "the definition says so); every try exits 78 again, under docker's doubling backoff",
  budgetUnreadable: "docker's stop timeout lives in the engine; the gateway cannot read it from inside the container",
  restartsPlannedExit: "a planned stop from inside (`docker exec ... hermes gateway stop`) exits 0 and `restart: unless-stopped` " +
    "starts it again (the definition says so: stop the container instead, or run `gateway boot`)",
  prepare: async (setup) => containerService(setup, await dockerSpec(setup, init), "exec mark-only")
})

export const kubernetes: SupervisorUnderTest = {
  name: "kubernetes",
  binaries: ["unshare", "nsenter"],
  restartWindowMs: 2_500,
  restartsInvalidConfig: "restartPolicy Always restarts exit 78 too (CrashLoopBackOff; the definition says so); " +
    "every try exits 78 again",
  budgetUnreadable: "terminationGracePeriodSeconds lives in the pod spec; the gateway cannot read it from inside the container",
  restartsPlannedExit: "a planned stop from inside the pod exits 0 and restartPolicy Always starts it again " +
    "(the definition says so: scale to 0 instead)",
  prepare: async (setup) => containerService(setup, await kubernetesSpec(setup), "preStop")
}
