// Everything the lifecycle kernel reads and writes in its home, behind one Tag, so the kernel
// runs the same against the real directory (live) and an in-memory home (tests).
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import {
  describeError,
  type FileReading,
  FileWriteError,
  readJson,
  readJsonSync,
  removeFileSync,
  removeStaleTempFilesSync,
  writeJsonAtomic,
  writeJsonAtomicOffLoop
} from "./AtomicFile.js"
import { type LifecycleRecord, lifecycleLine } from "../forensics/LifecycleRecord.js"
import { CleanShutdownDocument } from "./CleanShutdownFile.js"
import { GatewayStateDocument } from "./GatewayStateFile.js"
import type { HomePaths } from "./HomePaths.js"
import { acquireInstanceLock, type ControlServer, type HomeLocked, type LockError, type LockHello } from "./InstanceLock.js"
import { PidFileDocument } from "./PidFile.js"
import { isAlive } from "./ProcessIdentity.js"
import { PlannedStopDocument } from "./PlannedStopFile.js"
import { appendNoFollowSync, ensurePrivateDirectorySync } from "./SafeOpen.js"

export interface HomeStoreService {
  readonly dir: string
  readonly acquireLock: (hello: LockHello) => Effect.Effect<ControlServer, HomeLocked | LockError, Scope.Scope>
  readonly readPid: Effect.Effect<FileReading<PidFileDocument>>
  readonly writePid: (doc: PidFileDocument) => Effect.Effect<void, FileWriteError>
  /** Removes gateway.pid only if it still names `pid` (a successor may already have replaced it). */
  readonly removePidIfOurs: (pid: number) => Effect.Effect<void>
  readonly readState: Effect.Effect<FileReading<GatewayStateDocument>>
  /** Off the event loop (libuv's pool): for the writes that follow the status while the gateway serves. */
  readonly writeState: (doc: GatewayStateDocument) => Effect.Effect<void, FileWriteError>
  /**
   * On the event loop, blocking it for the two fsyncs (0.5 ms on an idle disk here): for the writes
   * that are steps of a stop, which wait for the write anyway and need not pay the pool's eight
   * round trips through the event loop on top.
   */
  readonly writeStateNow: (doc: GatewayStateDocument) => Effect.Effect<void, FileWriteError>
  readonly readPlannedStop: Effect.Effect<FileReading<PlannedStopDocument>>
  readonly removePlannedStop: Effect.Effect<void>
  readonly writeCleanShutdown: (doc: CleanShutdownDocument) => Effect.Effect<void, FileWriteError>
  /** Reads and deletes .clean_shutdown. */
  readonly consumeCleanShutdown: Effect.Effect<FileReading<CleanShutdownDocument>>
  readonly appendLifecycle: (record: LifecycleRecord) => Effect.Effect<void, FileWriteError>
  /** Removes temp files left by writers that died mid-write; returns their names. */
  readonly removeStaleTempFiles: Effect.Effect<ReadonlyArray<string>>
}

export class HomeStore extends Context.Tag("hermes/HomeStore")<HomeStore, HomeStoreService>() {
  static readonly live = (paths: HomePaths): Layer.Layer<HomeStore> => Layer.succeed(HomeStore, liveHomeStore(paths))
}

/** One record, encoded by its Schema, appended and fsynced; never through a symbolic link planted at the name. */
export const appendLifecycleSync = (file: string, record: LifecycleRecord): void =>
  appendNoFollowSync(file, lifecycleLine(record), { fsync: true })

export const liveHomeStore = (paths: HomePaths): HomeStoreService => ({
  dir: paths.dir,
  acquireLock: (hello) => acquireInstanceLock(paths.dir, hello),
  readPid: readJson(paths.pidFile, PidFileDocument),
  writePid: (doc) => writeJsonAtomic(paths.pidFile, doc),
  removePidIfOurs: (pid) =>
    fileWrite(paths.pidFile, "cannot remove", () => {
      const current = readJsonSync(paths.pidFile, PidFileDocument)
      if (current._tag === "Valid" && current.value.pid !== pid) return
      removeFileSync(paths.pidFile)
    }).pipe(Effect.catchAll((error) => Effect.logWarning(error.message))),
  readState: readJson(paths.state, GatewayStateDocument),
  writeState: (doc) => writeCheckedState(paths.state, doc, writeJsonAtomicOffLoop),
  writeStateNow: (doc) => writeCheckedState(paths.state, doc, writeJsonAtomic),
  readPlannedStop: readJson(paths.plannedStop, PlannedStopDocument),
  removePlannedStop: fileWrite(paths.plannedStop, "cannot remove", () => removeFileSync(paths.plannedStop)).pipe(
    Effect.catchAll((error) => Effect.logWarning(error.message))
  ),
  writeCleanShutdown: (doc) => writeJsonAtomic(paths.cleanShutdown, doc),
  consumeCleanShutdown: fileWrite(paths.cleanShutdown, "cannot consume", () => {
    const reading = readJsonSync(paths.cleanShutdown, CleanShutdownDocument)
    if (reading._tag !== "Missing") removeFileSync(paths.cleanShutdown)
    return reading
  }).pipe(Effect.catchAll((error) =>
    Effect.succeed<FileReading<CleanShutdownDocument>>({ _tag: "Invalid", reason: error.message })
  )),
  removeStaleTempFiles: Effect.sync(() => removeStaleTempFilesSync(paths.dir, isAlive)),
  appendLifecycle: (record) =>
    fileWrite(paths.lifecycleLog, "cannot append to", () => {
      ensurePrivateDirectorySync(paths.logs)
      appendLifecycleSync(paths.lifecycleLog, record)
    })
})

/** make() checks the document (a number JSON cannot carry is refused): a typed error, not a defect. */
const writeCheckedState = (
  file: string,
  doc: GatewayStateDocument,
  write: (file: string, value: unknown) => Effect.Effect<void, FileWriteError>
): Effect.Effect<void, FileWriteError> =>
  fileWrite(file, "cannot write", () => GatewayStateDocument.make(doc)).pipe(Effect.flatMap((checked) => write(file, checked)))

/** A write into the home that can fail in operation (full disk, permissions): a typed error, never a defect. */
const fileWrite = <A>(file: string, what: string, write: () => A): Effect.Effect<A, FileWriteError> =>
  Effect.try({
    try: write,
    catch: (error) => new FileWriteError({ path: file, message: `${what} ${file}: ${describeError(error)}` })
  })

/** What an in-memory home holds; tests read it to check outcomes. */
export interface MemoryHome {
  pid: PidFileDocument | undefined
  state: GatewayStateDocument | undefined
  plannedStop: PlannedStopDocument | undefined
  cleanShutdown: CleanShutdownDocument | undefined
  /** Each record as it would be read back from the file: encoded, then parsed. */
  lifecycle: Array<Record<string, unknown>>
  locked: boolean
}

const reading = <A>(value: A | undefined): FileReading<A> =>
  value === undefined ? { _tag: "Missing" } : { _tag: "Valid", value }

const writeMemoryState = (home: MemoryHome, onEvent: (event: string) => void) => (doc: GatewayStateDocument) =>
  Effect.sync(() => {
    home.state = doc
    onEvent(`state:${doc.gateway_state}`)
  })

/** An in-memory home; `onEvent` sees each write in order (used by ordering property tests). */
export const memoryHomeStore = (
  home: MemoryHome,
  onEvent: (event: string) => void = () => {}
): HomeStoreService => ({
  dir: "/memory",
  acquireLock: () =>
    Effect.acquireRelease(
      Effect.sync((): ControlServer => {
        home.locked = true
        onEvent("lock:acquire")
        return { serve: () => {} }
      }),
      () =>
        Effect.sync(() => {
          home.locked = false
          onEvent("lock:release")
        })
    ),
  readPid: Effect.sync(() => reading(home.pid)),
  writePid: (doc) => Effect.sync(() => void (home.pid = doc)),
  removePidIfOurs: (pid) => Effect.sync(() => void (home.pid?.pid === pid && (home.pid = undefined))),
  readState: Effect.sync(() => reading(home.state)),
  // Off the loop or on it is all one in memory.
  writeState: writeMemoryState(home, onEvent),
  writeStateNow: writeMemoryState(home, onEvent),
  readPlannedStop: Effect.sync(() => reading(home.plannedStop)),
  removePlannedStop: Effect.sync(() => void (home.plannedStop = undefined)),
  writeCleanShutdown: (doc) =>
    Effect.sync(() => {
      home.cleanShutdown = doc
      onEvent("clean_shutdown")
    }),
  consumeCleanShutdown: Effect.sync(() => {
    const found = reading(home.cleanShutdown)
    home.cleanShutdown = undefined
    return found
  }),
  appendLifecycle: (record) => Effect.sync(() => void home.lifecycle.push(JSON.parse(lifecycleLine(record)))),
  removeStaleTempFiles: Effect.succeed([])
})

export const emptyMemoryHome = (): MemoryHome => ({
  pid: undefined,
  state: undefined,
  plannedStop: undefined,
  cleanShutdown: undefined,
  lifecycle: [],
  locked: false
})
