// One gateway per home (CONTRACT 2): an flock(2) on `<home>/gateway.lock`, held through a descriptor
// of the gateway (FileLock.ts), so the kernel releases it the instant the gateway dies and a
// SIGKILLed gateway never blocks the next start. The file sits in the 0700 home: only the home's
// owner and root can open it, so no other user can squat the lock or make start-up fail. Its
// holder alone then serves the control socket (ControlSocket.ts).
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { describeError, readJsonSync } from "./AtomicFile.js"
import { type ControlServer, type LockHello, serveControlSocket } from "./ControlSocket.js"
import { type HeldFileLock, tryLockFile } from "./FileLock.js"
import { checkGatewayProcess } from "./GatewayProcess.js"
import { PidFileDocument } from "./PidFile.js"

export { type ControlServer, LockHello } from "./ControlSocket.js"

export class HomeLocked extends ExitingError("HomeLocked", ExitCode.Unavailable)<{
  readonly message: string
  readonly pid: number | null
}> {}

export class LockError extends ExitingError("LockError", ExitCode.Config)<{
  readonly message: string
}> {}

export const lockFileOf = (homeDir: string): string => path.join(homeDir, "gateway.lock")

/**
 * How long a start waits for a lock held by something that is not a running gateway: a gateway
 * still starting (gateway.pid not written yet) or a CLI that holds the home for a moment
 * (`hermes gateway sessions` reading the database while no gateway runs).
 */
export const lockPatience = Duration.seconds(5)
const retryEvery = Duration.millis(100)

/** The verified gateway named by gateway.pid, if the home has one. */
export const pidFileGateway = (homeDir: string): Option.Option<number> => {
  const reading = readJsonSync(path.join(homeDir, "gateway.pid"), PidFileDocument)
  if (reading._tag !== "Valid") return Option.none()
  const identity = { pid: reading.value.pid, startTime: reading.value.start_time }
  return checkGatewayProcess(identity, lockFileOf(homeDir))._tag === "Verified" ? Option.some(identity.pid) : Option.none()
}

/**
 * One attempt at gateway.lock. Root reading another user's home (`hermes gateway sessions` while no
 * gateway runs) may create the file: it is handed to the home's owner, or their gateway could not
 * open it afterwards.
 */
export const tryHomeLock = (homeDir: string): Effect.Effect<Option.Option<HeldFileLock>, LockError, Scope.Scope> =>
  tryLockFile(lockFileOf(homeDir)).pipe(
    Effect.tap(Option.match({
      onNone: () => Effect.void,
      onSome: (held) => Effect.sync(() => giveToHomeOwner(homeDir, held.fd))
    })),
    Effect.mapError((error) => new LockError({ message: error.message }))
  )

const giveToHomeOwner = (homeDir: string, fd: number): void => {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return
  try {
    const home = fs.statSync(homeDir)
    const lock = fs.fstatSync(fd)
    if (lock.uid !== home.uid || lock.gid !== home.gid) fs.fchownSync(fd, home.uid, home.gid)
  } catch {
    // best effort: the owner's gateway names the file if it cannot open it
  }
}

/** Takes gateway.lock, waiting up to `patience` while its holder is not (yet) a gateway. */
export const takeHomeLock = (
  homeDir: string,
  patience: Duration.Duration = lockPatience
): Effect.Effect<void, HomeLocked | LockError, Scope.Scope> => {
  const attempt = tryHomeLock(homeDir)
  const tryUntil = (deadline: number): Effect.Effect<void, HomeLocked | LockError, Scope.Scope> =>
    Effect.gen(function*() {
      if (Option.isSome(yield* attempt)) {
        // Held, but a gateway of the previous release (abstract-socket lock) may still run here.
        const legacy = pidFileGateway(homeDir)
        if (Option.isNone(legacy)) return
        return yield* new HomeLocked({
          pid: legacy.value,
          message: `home ${homeDir} is held by a running gateway of an earlier release (pid ${legacy.value}); ` +
            "stop it first with `hermes gateway stop`"
        })
      }
      const holder = pidFileGateway(homeDir)
      if (Option.isSome(holder)) {
        return yield* new HomeLocked({
          pid: holder.value,
          message: `home ${homeDir} is held by a running gateway (pid ${holder.value}); stop it first with \`hermes gateway stop\``
        })
      }
      if ((yield* Clock.currentTimeMillis) >= deadline) {
        return yield* new HomeLocked({
          pid: null,
          message: `home ${homeDir} is held by a gateway that is starting (it has not written gateway.pid within ` +
            `${Duration.format(patience)}), or by another hermes command using the home, or by a gateway in another ` +
            "pid namespace sharing it; try again, or see `hermes gateway status`"
        })
      }
      yield* Effect.sleep(retryEvery)
      return yield* tryUntil(deadline)
    })
  return Clock.currentTimeMillis.pipe(Effect.flatMap((now) => tryUntil(now + Duration.toMillis(patience))))
}

/** Holds the home's lock and serves its control socket for the life of the scope. */
export const acquireInstanceLock = (
  homeDir: string,
  hello: LockHello
): Effect.Effect<ControlServer, HomeLocked | LockError, Scope.Scope> =>
  Effect.gen(function*() {
    yield* takeHomeLock(homeDir)
    return yield* serveControlSocket(homeDir, hello).pipe(
      Effect.mapError((error) => new LockError({ message: describeError(error) }))
    )
  })
