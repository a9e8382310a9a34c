// sd_notify without native code: Node cannot send Unix datagrams, so messages go through the
// `systemd-notify` tool (the unit sets NotifyAccess=all so the manager accepts them from a child).
// Without NOTIFY_SOCKET every call is a no-op.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFile } from "node:child_process"

export interface SystemdNotifyService {
  /** Whether a manager is listening (NOTIFY_SOCKET set). */
  readonly enabled: boolean
  /** Sends `KEY=VALUE` assignments in one message; never fails (a lost status is only logged). */
  readonly notify: (assignments: ReadonlyArray<string>) => Effect.Effect<void>
}

export class SystemdNotify extends Context.Tag("hermes/SystemdNotify")<SystemdNotify, SystemdNotifyService>() {
  static readonly live: Layer.Layer<SystemdNotify> = Layer.sync(SystemdNotify, () => {
    const socket = process.env.NOTIFY_SOCKET
    if (socket === undefined || socket === "") return disabled
    return {
      enabled: true,
      notify: (assignments) =>
        Effect.async<void>((resume) => {
          // --pid names us as the sender, so READY=1 and MAINPID agree even though the tool is a child.
          execFile("systemd-notify", [`--pid=${process.pid}`, ...assignments], { timeout: 5000 }, (error) => {
            resume(
              error === null
                ? Effect.void
                : Effect.logWarning(`systemd-notify ${assignments.join(" ")} failed: ${error.message}`)
            )
          })
        })
    }
  })

  /** Records every message instead of sending it. */
  static readonly recording = (sent: Array<string>): Layer.Layer<SystemdNotify> =>
    Layer.succeed(SystemdNotify, {
      enabled: true,
      notify: (assignments) => Effect.sync(() => void sent.push(assignments.join(" ")))
    })
}

const disabled: SystemdNotifyService = { enabled: false, notify: () => Effect.void }

/** EXTEND_TIMEOUT_USEC wants microseconds. */
export const extendTimeout = (millis: number): string => `EXTEND_TIMEOUT_USEC=${Math.max(0, Math.ceil(millis)) * 1000}`
