// Which supervisor owns this gateway: the `supervisor` field of gateway_state.json (CONTRACT 4), used
// to route stop/restart through it and to decide how a restart is done (CONTRACT 3.4). A pure decision
// over evidence, plus one function that gathers the evidence of the running process and never throws.
import * as Effect from "effect/Effect"
import * as fs from "node:fs"

export interface SupervisorEvidence {
  readonly env: Readonly<Record<string, string | undefined>>
  /** /proc/self/cgroup, when readable. */
  readonly cgroup?: string | undefined
  /** The parent's process name (/proc/PPID/comm), when readable. */
  readonly parentName?: string | undefined
  /** The parent's working directory (/proc/PPID/cwd), when readable (same user, or root). */
  readonly parentCwd?: string | undefined
  /** This process's working directory. */
  readonly cwd?: string | undefined
  /** /.dockerenv (docker) or /run/.containerenv (podman) exists. */
  readonly containerFile?: boolean | undefined
  readonly platform?: string | undefined
  readonly uid?: number | undefined
  /**
   * This process is a container's main process: pid 1, or the only child of an init such as tini.
   * Container evidence counts only then: a gateway started from a shell inside a container (a dev
   * box, `docker exec`) is not run by the container runtime.
   */
  readonly containerMain?: boolean | undefined
}

const containerInits: ReadonlySet<string> = new Set(["tini", "dumb-init", "docker-init", "catatonit"])

/** Same shape as SupervisorInfo in gateway_state.json. */
export interface DetectedSupervisor {
  readonly kind: string
  /** systemd unit, s6/runit service directory, supervisord program, launchd label, pod or container name. */
  readonly unit: string | null
  /**
   * What the CLI needs to reach the supervisor: systemd `{scope: "user" | "system"}`, supervisord
   * `{server_url}`, launchd `{domain}` (for launchctl bootout).
   */
  readonly control: Readonly<Record<string, string>> | null
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value !== undefined && value.trim() !== "" ? value.trim() : undefined

// ---------------------------------------------------------------------------------------------
// Reading the evidence

interface CgroupUnit {
  /** The innermost systemd unit the process sits in, `.service` or `.scope`. */
  readonly name: string
  /** Below a `user@UID.service`: a unit of a user's manager. */
  readonly userManager: boolean
}

/** The cgroup path systemd manages: the unified (v2) line, else the named v1 hierarchy, else any. */
const cgroupPaths = (cgroup: string): ReadonlyArray<string> => {
  const entries = cgroup
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [id, controllers, ...rest] = line.split(":")
      return { id, controllers, path: rest.join(":") }
    })
  const preferred = entries.filter((e) => e.id === "0" && e.controllers === "")
    .concat(entries.filter((e) => e.controllers === "name=systemd"))
  return (preferred.length > 0 ? preferred : entries).map((e) => e.path)
}

export const systemdUnitOf = (cgroup: string): CgroupUnit | null => {
  for (const path of cgroupPaths(cgroup)) {
    const segments = path.split("/")
    let index = segments.length - 1
    while (index >= 0 && !/\.(service|scope)$/.test(segments[index]!)) index--
    if (index < 0) continue
    return {
      name: segments[index]!,
      userManager: segments.slice(0, index).some((segment) => /^user@\d+\.service$/.test(segment))
    }
  }
  return null
}

const containerCgroup = (cgroup: string): "docker" | "kubernetes" | null => {
  if (/\/kubepods/.test(cgroup)) return "kubernetes"
  if (/\/(docker|containerd|cri-containerd|crio|libpod)[-/]/.test(cgroup)) return "docker"
  return null
}

/** launchd jobs carry their label; Terminal sessions carry "0" or an `application.` name. */
const launchdLabel = (evidence: SupervisorEvidence): string | undefined => {
  const name = nonEmpty(evidence.env.XPC_SERVICE_NAME)
  return name !== undefined && name !== "0" && !name.startsWith("application.") ? name : undefined
}

// ---------------------------------------------------------------------------------------------
// Deciding

/**
 * Evidence in order of specificity. A supervisor passes its environment on to everything below it,
 * so the closest one must win: supervisord's variables, then a direct s6/runit parent, come before
 * INVOCATION_ID, which a supervisord or s6-svscan started by systemd hands down to its children.
 * INVOCATION_ID inside a `.scope` (a terminal started from a systemd service) is such a leftover.
 */
const inferKind = (evidence: SupervisorEvidence): string | null => {
  const env = evidence.env
  if (nonEmpty(env.SUPERVISOR_SERVER_URL) !== undefined || nonEmpty(env.SUPERVISOR_PROCESS_NAME) !== undefined) {
    return "supervisord"
  }
  if (evidence.parentName === "s6-supervise") return "s6"
  if (evidence.parentName === "runsv") return "runit"
  if (nonEmpty(env.INVOCATION_ID) !== undefined || nonEmpty(env.NOTIFY_SOCKET) !== undefined) {
    const unit = evidence.cgroup === undefined ? null : systemdUnitOf(evidence.cgroup)
    if (evidence.cgroup === undefined || unit?.name.endsWith(".service") === true) return "systemd"
  }
  if (evidence.containerMain === false) return null
  if (nonEmpty(env.KUBERNETES_SERVICE_HOST) !== undefined) return "kubernetes"
  const fromCgroup = evidence.cgroup === undefined ? null : containerCgroup(evidence.cgroup)
  if (fromCgroup !== null) return fromCgroup
  if (evidence.containerFile === true) return "docker"
  if (evidence.platform === "darwin" && launchdLabel(evidence) !== undefined) return "launchd"
  return null
}

/** `systemd-system` is how install names the system unit; the supervisor is systemd either way. */
const normalizeKind = (declared: string): string => (declared === "systemd-system" ? "systemd" : declared)

const serviceDirectory = (evidence: SupervisorEvidence, parent: string): string | null =>
  nonEmpty(evidence.parentName === parent ? evidence.parentCwd : undefined) ?? nonEmpty(evidence.cwd) ?? null

const describe = (kind: string, declared: string, evidence: SupervisorEvidence): DetectedSupervisor => {
  const env = evidence.env
  switch (kind) {
    case "systemd": {
      const unit = evidence.cgroup === undefined ? null : systemdUnitOf(evidence.cgroup)
      const service = unit !== null && unit.name.endsWith(".service") ? unit : null
      const scope = service !== null
        ? (service.userManager ? "user" : "system")
        : declared === "systemd-system"
        ? "system"
        : undefined
      return { kind, unit: service?.name ?? null, control: scope === undefined ? null : { scope } }
    }
    case "supervisord": {
      const name = nonEmpty(env.SUPERVISOR_PROCESS_NAME)
      const group = nonEmpty(env.SUPERVISOR_GROUP_NAME)
      const url = nonEmpty(env.SUPERVISOR_SERVER_URL)
      // supervisorctl names a program inside a group of another name as group:program.
      const unit = name === undefined ? null : group !== undefined && group !== name ? `${group}:${name}` : name
      return { kind, unit, control: url === undefined ? null : { server_url: url } }
    }
    case "s6":
      return { kind, unit: serviceDirectory(evidence, "s6-supervise"), control: null }
    case "runit":
      return { kind, unit: serviceDirectory(evidence, "runsv"), control: null }
    case "launchd": {
      const domain = evidence.uid === undefined ? undefined : evidence.uid === 0 ? "system" : `gui/${evidence.uid}`
      return { kind, unit: launchdLabel(evidence) ?? null, control: domain === undefined ? null : { domain } }
    }
    case "kubernetes":
    case "docker":
      // Pod name / container id: what `kubectl` / `docker` call it, for the operator's eyes.
      return { kind, unit: nonEmpty(env.HOSTNAME) ?? null, control: null }
    default:
      return { kind, unit: null, control: null }
  }
}

/**
 * `HERMES_SUPERVISOR` first (every generated definition exports it; `none` says "unsupervised" and
 * overrides a wrong guess), the evidence second. Never used to classify a signal (CONTRACT 3.2).
 */
export const detectSupervisor = (evidence: SupervisorEvidence): DetectedSupervisor | null => {
  const declared = (evidence.env.HERMES_SUPERVISOR ?? "").trim().toLowerCase()
  if (declared === "none") return null
  const kind = declared !== "" ? normalizeKind(declared) : inferKind(evidence)
  return kind === null ? null : describe(kind, declared, evidence)
}

// ---------------------------------------------------------------------------------------------
// The running process

const attempt = <A>(read: () => A): A | undefined => {
  try {
    return read()
  } catch {
    return undefined
  }
}

/** The evidence about this process. Every source is optional: an unreadable one is left out. */
export const gatherEvidence = (): SupervisorEvidence => {
  const ppid = process.ppid
  const linux = process.platform === "linux"
  return {
    env: process.env,
    cgroup: linux ? attempt(() => fs.readFileSync("/proc/self/cgroup", "utf8")) : undefined,
    parentName: linux ? attempt(() => fs.readFileSync(`/proc/${ppid}/comm`, "utf8").trim()) : undefined,
    parentCwd: linux ? attempt(() => fs.readlinkSync(`/proc/${ppid}/cwd`)) : undefined,
    cwd: attempt(() => process.cwd()),
    containerFile: attempt(() => fs.existsSync("/.dockerenv") || fs.existsSync("/run/.containerenv")) ?? false,
    platform: process.platform,
    uid: attempt(() => process.getuid?.()),
    containerMain: process.pid === 1 ||
      (ppid === 1 && linux && containerInits.has(attempt(() => fs.readFileSync("/proc/1/comm", "utf8").trim()) ?? ""))
  }
}

/** The supervisor of this process, or null when it runs on its own. */
export const currentSupervisor: Effect.Effect<DetectedSupervisor | null> = Effect.sync(() =>
  attempt(() => detectSupervisor(gatherEvidence())) ?? null
)
