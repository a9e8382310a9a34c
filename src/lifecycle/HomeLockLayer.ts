// The bottom of the stack: the home lock, and the final step (phase 8) registered right after it so
// it runs while the lock is still held. Also what start-up does under the lock before anything can
// be stopped: the respawn-storm record, the start-up and loop watchdogs, the pid file.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { ControlServer } from "../home/ControlSocket.js"
import type { FileReading, FileWriteError } from "../home/AtomicFile.js"
import { HomeStore } from "../home/HomeStore.js"
import type { PidFileDocument } from "../home/PidFile.js"
import { EnvironmentError } from "./GatewayErrors.js"
import { isoNow, Life } from "./Life.js"
import type { StartVerdict } from "./RespawnStorm.js"
import { finalStep } from "./ShutdownSteps.js"
import { recordStart, startupDeadline } from "./StartGate.js"
import { Watchdog } from "./Watchdog.js"

/** What the locked part of start-up hands the layers above it. */
export class LockedHome extends Context.Tag("hermes/LockedHome")<LockedHome, {
  /** The control channel of the lock: `hermes gateway sessions` asks it instead of opening the database. */
  readonly controlServer: ControlServer
  readonly startVerdict: StartVerdict
  /** gateway.pid as the previous life left it, read before ours replaced it. */
  readonly previousPidFile: FileReading<PidFileDocument>
}>() {}

export const environmentError = (error: FileWriteError) => new EnvironmentError({ message: error.message })

export const HomeLockLayer = Layer.scoped(
  LockedHome,
  Effect.gen(function*() {
    const { life, store, watchdog } = yield* Effect.all({ life: Life, store: HomeStore, watchdog: Watchdog })
    const { self, argv, respawnStorm, startupTimeout, loopStallTimeout } = life.settings
    const controlServer = yield* store.acquireLock({ pid: self.pid, start_time: self.startTime, home: store.dir })
    yield* Effect.addFinalizer((exit) => finalStep(exit))
    const startVerdict = yield* recordStart(respawnStorm)
    const startupLimit = startupDeadline(startupTimeout, startVerdict)
    if (Option.isSome(startupLimit)) yield* watchdog.armStartup(startupLimit.value, { start_time: self.startTime })
    if (loopStallTimeout !== undefined) yield* watchdog.startLoopMonitor(loopStallTimeout, { start_time: self.startTime })
    const previousPidFile = yield* store.readPid
    const staleTemps = yield* store.removeStaleTempFiles
    if (staleTemps.length > 0) yield* Effect.log(`removed temp files left by a killed writer: ${staleTemps.join(", ")}`)
    const startedAt = yield* isoNow
    yield* Ref.set(life.startedAt, startedAt)
    yield* store.writePid({ pid: self.pid, start_time: self.startTime, argv: [...argv], home: store.dir, started_at: startedAt })
      .pipe(Effect.mapError(environmentError))
    return { controlServer, startVerdict, previousPidFile }
  })
)
