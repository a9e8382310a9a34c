// sd_notify without native code: Node cannot send Unix datagrams, so messages go through the
// `systemd-notify` tool (the unit sets NotifyAccess=all so the manager accepts them from a child),
// run as a Command so a call that hangs or is interrupted leaves no child behind.
// Without NOTIFY_SOCKET every call is a no-op.
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { runBounded } from "./CommandOutput.js"

/** systemd-notify answers at once; one that does not is killed rather than waited for. */
const notifyBound = Duration.seconds(5)

export interface SystemdNotifyService {
  /** Whether a manager is listening (NOTIFY_SOCKET set). */
  readonly enabled: boolean
  /** Sends `KEY=VALUE` assignments in one message; never fails (a lost status is only logged). */
  readonly notify: (assignments: ReadonlyArray<string>) => Effect.Effect<void>
}

export class SystemdNotify extends Context.Tag("hermes/SystemdNotify")<SystemdNotify, SystemdNotifyService>() {
  static readonly live: Layer.Layer<SystemdNotify, never, CommandExecutor.CommandExecutor> = Layer.effect(
    SystemdNotify,
    Effect.gen(function*() {
      const socket = process.env.NOTIFY_SOCKET
      if (socket === undefined || socket === "") return disabled
      const executor = yield* CommandExecutor.CommandExecutor
      return {
        enabled: true,
        notify: (assignments) => {
          const failed = (why: string) => Effect.logWarning(`systemd-notify ${assignments.join(" ")} failed: ${why}`)
          // --pid names us as the sender, so READY=1 and MAINPID agree even though the tool is a child.
          return runBounded("systemd-notify", [`--pid=${process.pid}`, ...assignments], notifyBound).pipe(
            Effect.flatMap(Option.match({
              onNone: () => failed(`no answer within ${Duration.format(notifyBound)}; killed`),
              onSome: (done) => (done.exitCode === 0 ? Effect.void : failed(`exit ${done.exitCode} ${done.stderr.trim()}`.trim()))
            })),
            Effect.catchAll((error) => failed(error.message)),
            Effect.provideService(CommandExecutor.CommandExecutor, executor)
          )
        }
      } satisfies SystemdNotifyService
    })
  )

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
