// `stop --mark-only --pid=PID` runs as a supervisor's stop hook (systemd ExecStop=, a preStop hook,
// a runit control script). A hook must never make the stop fail, so whatever it is handed that
// names no process is a no-op with a reason; only marking a process that is provably not this
// home's gateway is refused. Pure decisions; StopCommand does the I/O.
import type { ProcessIdentity } from "../home/ProcessIdentity.js"

/** What `--pid` asks for: a process to mark, or nothing (with the reason, for one stderr line). */
export type MarkOnlyPid =
  | { readonly _tag: "Mark"; readonly pid: number }
  | { readonly _tag: "Nothing"; readonly reason: string }

/** Linux never hands out pids above 2^22; anything past 2^31 - 1 is no pid on any system. */
const largestPid = 2 ** 31 - 1

export const parseMarkOnlyPid = (text: string | undefined): MarkOnlyPid => {
  const value = text?.trim() ?? ""
  if (value === "") {
    return { _tag: "Nothing", reason: "no --pid given (the service has no main process); nothing to mark" }
  }
  const shown = JSON.stringify(value)
  if (value.includes("$")) {
    return {
      _tag: "Nothing",
      reason: `--pid ${shown} is a variable the supervisor did not expand (the service has no main process?); nothing to mark`
    }
  }
  if (/^-\d+$/.test(value)) return { _tag: "Nothing", reason: `--pid ${shown} is negative, not a process id; nothing to mark` }
  if (!/^\d+$/.test(value)) return { _tag: "Nothing", reason: `--pid ${shown} is not a process id; nothing to mark` }
  const pid = Number(value)
  if (pid === 0) return { _tag: "Nothing", reason: "--pid 0 names no process; nothing to mark" }
  if (pid > largestPid) return { _tag: "Nothing", reason: `--pid ${shown} is out of range for a process id; nothing to mark` }
  return { _tag: "Mark", pid }
}

/** Whether to write the marker for a live `target`, given the live gateway this home has (if any). */
export type MarkOnlyVerdict =
  | { readonly _tag: "Write" }
  | { readonly _tag: "Refuse"; readonly message: string }

/**
 * A live gateway that is not `target` means the hook was handed the wrong process (a wrapper, a
 * stale pid): a marker for it would never be read, and the real gateway's stop would still look
 * unplanned, so say so. No live gateway (still starting, or in another pid namespace) leaves only
 * the pid to go by; the marker names the incarnation, so it cannot apply to anyone else.
 */
export const markOnlyVerdict = (
  target: ProcessIdentity,
  liveGateway: ProcessIdentity | undefined,
  home: string
): MarkOnlyVerdict => {
  if (liveGateway === undefined) return { _tag: "Write" }
  if (liveGateway.pid === target.pid && liveGateway.startTime === target.startTime) return { _tag: "Write" }
  return {
    _tag: "Refuse",
    message: `pid ${target.pid} is not the gateway of ${home}: its live gateway is pid ${liveGateway.pid}; ` +
      "no marker written (check the pid the stop hook passes)"
  }
}
