// Finds the gateway of a home for commands that signal or inspect it. gateway.pid names the
// incarnation, but a pid file is only a claim: the named process counts as this home's gateway only
// when it proves it (GatewayProcess.ts: start time, not a zombie, a gateway command line, holding
// the home's lock file open). If the pid file fails, the control socket's hello (served only by
// the holder of the lock) is asked and checked the same way. Every signal re-checks first.
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { readJsonSync } from "../home/AtomicFile.js"
import { probeControl } from "../home/ControlSocket.js"
import { checkGatewayProcess, type GatewayCheck } from "../home/GatewayProcess.js"
import type { HomePaths } from "../home/HomePaths.js"
import { lockFileOf } from "../home/InstanceLock.js"
import { PidFileDocument } from "../home/PidFile.js"
import { flockListing } from "../home/ProcLocks.js"
import type { ProcessIdentity } from "../home/ProcessIdentity.js"

export type GatewayTarget =
  | { readonly _tag: "Running"; readonly identity: ProcessIdentity }
  | { readonly _tag: "NotRunning"; readonly note: string }

/**
 * Is `identity` (still) this home's gateway? Called right before every signal. On Linux every
 * check of GatewayProcess.ts; elsewhere only the start time (documented best effort).
 */
export const verifyGateway = (paths: HomePaths, identity: ProcessIdentity): GatewayCheck =>
  checkGatewayProcess(identity, lockFileOf(paths.dir))

/** Elsewhere than Linux, the control socket's hello must name the same incarnation. */
const confirmedByHello = (paths: HomePaths, identity: ProcessIdentity): Effect.Effect<boolean> =>
  process.platform === "linux"
    ? Effect.succeed(true)
    : probeControl(paths.dir).pipe(Effect.map(Option.exists((hello) =>
      hello.pid === identity.pid && hello.start_time === identity.startTime
    )))

const lockNote = (paths: HomePaths): string =>
  flockListing(lockFileOf(paths.dir)) === "listed"
    ? "the home's lock is held by a process that is not a verifiable gateway of this home " +
      "(a gateway still starting, another hermes command using the home, or a gateway in another pid namespace)"
    : "no gateway holds the home"

export const findGateway = (paths: HomePaths): Effect.Effect<GatewayTarget> =>
  Effect.gen(function*() {
    const pidFile = readJsonSync(paths.pidFile, PidFileDocument)
    let claim: string
    if (pidFile._tag === "Valid") {
      const identity = { pid: pidFile.value.pid, startTime: pidFile.value.start_time }
      const check = verifyGateway(paths, identity)
      if (check._tag === "Verified" && (yield* confirmedByHello(paths, identity))) return { _tag: "Running", identity }
      claim = check._tag === "Rejected"
        ? `gateway.pid names pid ${identity.pid}, which is not this home's gateway: ${check.reason}`
        : `gateway.pid names pid ${identity.pid}, but no gateway answers on the home's control socket`
    } else {
      claim = pidFile._tag === "Invalid" ? pidFile.reason : "no gateway.pid"
    }
    // A pid file that fails (forged, stale, being rewritten): the holder of the lock may still
    // name itself on the control socket, and is checked like any claim.
    const hello = yield* probeControl(paths.dir)
    if (Option.isSome(hello)) {
      const identity = { pid: hello.value.pid, startTime: hello.value.start_time }
      if (verifyGateway(paths, identity)._tag === "Verified") return { _tag: "Running", identity }
    }
    return { _tag: "NotRunning", note: `${claim}; ${lockNote(paths)}` }
  })
