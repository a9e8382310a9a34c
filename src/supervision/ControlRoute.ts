// How `hermes gateway stop` and `restart` reach the gateway (CONTRACT 8): through the supervisor
// that owns it when there is one, so a stopped gateway stays stopped and a restarted one comes back;
// otherwise a planned-stop marker and a signal. Pure: the command line is decided here, run elsewhere.
import type { StopAction } from "../home/PlannedStopFile.js"
import type { DetectedSupervisor } from "./Detection.js"

export interface ControlRoute {
  /** Write the planned-stop marker (with this action) before anything else. */
  readonly marker: StopAction
  /** The supervisor's own command, or null to signal the gateway directly. */
  readonly command: ReadonlyArray<string> | null
  /** The signal to send when there is no command (or it failed). */
  readonly signal: "SIGTERM"
  readonly via: string
}

const systemctl = (supervisor: DetectedSupervisor): ReadonlyArray<string> =>
  supervisor.control?.scope === "user" ? ["systemctl", "--user"] : ["systemctl"]

export const controlRoute = (supervisor: DetectedSupervisor | null, action: StopAction): ControlRoute => {
  const direct: ControlRoute = { marker: action, command: null, signal: "SIGTERM", via: "signal" }
  if (supervisor === null || supervisor.unit === null) return direct
  const unit = supervisor.unit
  switch (supervisor.kind) {
    case "systemd":
      // stop: ExecStop= writes the marker for MAINPID itself; ours is the same and harmless.
      // restart: SIGTERM through systemd to the main process after our restart marker; the gateway
      // exits 75 and the unit restarts it by itself (RestartForceExitStatus=75), so systemd records a
      // successful automatic restart (NRestarts) instead of a stop job and a start job.
      return {
        ...direct,
        command: action === "stop"
          ? [...systemctl(supervisor), "stop", unit]
          : [...systemctl(supervisor), "kill", "--kill-who=main", "--signal=SIGTERM", unit],
        via: "systemd"
      }
    case "s6":
      return { ...direct, command: ["s6-svc", action === "stop" ? "-d" : "-r", unit], via: "s6" }
    case "runit":
      return { ...direct, command: ["sv", action === "stop" ? "down" : "restart", unit], via: "runit" }
    case "supervisord": {
      const url = supervisor.control?.server_url
      return {
        ...direct,
        command: ["supervisorctl", ...(url !== undefined ? ["-s", url] : []), action, unit],
        via: "supervisord"
      }
    }
    case "launchd": {
      const domain = supervisor.control?.domain
      if (domain === undefined) return direct
      return {
        ...direct,
        command: action === "stop" ? ["launchctl", "bootout", `${domain}/${unit}`] : ["launchctl", "kickstart", "-k", `${domain}/${unit}`],
        via: "launchd"
      }
    }
    default:
      // Containers, Kubernetes and our own restart parent act on the process's exit code.
      return direct
  }
}
