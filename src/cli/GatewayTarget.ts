// Finds the gateway of a home for commands that signal or inspect it. The pid file names the
// incarnation; the home lock answers for whoever really holds the home. A pid is never trusted
// unless its start time still matches.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { readJsonSync } from "../home/AtomicFile.js"
import type { HomePaths } from "../home/HomePaths.js"
import { probeLock } from "../home/InstanceLock.js"
import { PidFileDocument } from "../home/PidFile.js"
import { isSameProcess, type ProcessIdentity } from "../home/ProcessIdentity.js"

export type GatewayTarget =
  | { readonly _tag: "Running"; readonly identity: ProcessIdentity }
  | { readonly _tag: "NotRunning"; readonly note: string }

export const findGateway = (paths: HomePaths): Effect.Effect<GatewayTarget> =>
  Effect.gen(function*() {
    const holder = yield* probeLock(paths.dir)
    if (Option.isSome(holder)) {
      const identity = { pid: holder.value.pid, startTime: holder.value.start_time }
      if (isSameProcess(identity)) return { _tag: "Running", identity }
      // The holder lives in another pid namespace (a container): its pid means nothing here.
      return { _tag: "NotRunning", note: `the home is held by pid ${identity.pid} of another pid namespace; stop it from there` }
    }
    const pidFile = readJsonSync(paths.pidFile, PidFileDocument)
    if (pidFile._tag === "Valid") {
      const identity = { pid: pidFile.value.pid, startTime: pidFile.value.start_time }
      if (isSameProcess(identity)) return { _tag: "Running", identity }
      return { _tag: "NotRunning", note: `gateway.pid names pid ${identity.pid}, which is no longer that gateway` }
    }
    if (pidFile._tag === "Invalid") return { _tag: "NotRunning", note: `${pidFile.reason}; no live gateway holds the home` }
    return { _tag: "NotRunning", note: "no gateway holds the home" }
  })
