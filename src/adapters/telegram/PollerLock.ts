// One poller per bot token on a machine: two homes given the same token would both long-poll
// getUpdates and get 409 Conflict from the Bot API, each stealing the other's updates. The first
// Telegram adapter to connect holds a flock on a file named by a keyed hash of the token (the token
// never appears in a file name or a log) in the user's runtime directory, and writes who it is next
// to it, so a second one can refuse with the other home and pid. The kernel drops the lock when its
// holder dies.
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createHmac } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { describeError, readJsonSync, writeJsonAtomicSync } from "../../home/AtomicFile.js"
import { type HeldFileLock, tryLockFileSync } from "../../home/FileLock.js"
import { isSameProcess, selfIdentity } from "../../home/ProcessIdentity.js"
import { runtimeDirOptions, type RuntimeDirOptions, userRuntimeDirSync } from "../../home/RuntimeDir.js"
import { ExitCode } from "../../lifecycle/ExitCode.js"
import { AdapterConnectError } from "../Adapter.js"

/** Not a secret: it only keeps these hashes apart from any other use of the token. */
const hashKey = "hermes-gateway/telegram-poller-lock/v1"

export const tokenKey = (token: string): string => createHmac("sha256", hashKey).update(token).digest("hex").slice(0, 32)

export const PollerRecord = Schema.Struct({
  home: Schema.String,
  pid: Schema.Number,
  start_time: Schema.String,
  started_at: Schema.String
})
export type PollerRecord = typeof PollerRecord.Type

export interface PollerLockOptions {
  readonly token: Redacted.Redacted<string>
  readonly tokenEnv: string
  readonly home: string
  readonly runtime?: RuntimeDirOptions
}

export interface PollerLockSlot {
  /** Takes the lock (no-op when held). Fails 69 when another gateway polls the token, 78 when the directory is unsafe. */
  readonly take: Effect.Effect<void, AdapterConnectError>
  /** Releases it (no-op when not held). */
  readonly release: Effect.Effect<void>
}

const failure = (message: string, exitCode: typeof ExitCode.Unavailable | typeof ExitCode.Config) =>
  new AdapterConnectError({ adapter: "telegram", message, exitCode, endsStartup: true })

/**
 * The holder as it describes itself, for the refusal. The record may be missing, or left by an
 * earlier holder that died (the new one has not written its own yet): only a live one is named.
 */
const describeHolder = (sidecar: string): string => {
  const reading = readJsonSync(sidecar, PollerRecord)
  return reading._tag === "Valid" && isSameProcess({ pid: reading.value.pid, startTime: reading.value.start_time })
    ? `the gateway of home ${reading.value.home} (pid ${reading.value.pid})`
    : "another gateway (it has not said which yet)"
}

export const makePollerLock = (options: PollerLockOptions): PollerLockSlot => {
  let held: { readonly lock: HeldFileLock; readonly sidecar: string; readonly record: PollerRecord } | undefined
  const take = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (held !== undefined) return Effect.void
    let dir: string
    try {
      dir = userRuntimeDirSync(options.runtime ?? runtimeDirOptions())
    } catch (error) {
      return Effect.fail(failure(`telegram: ${describeError(error)}`, ExitCode.Config))
    }
    const key = tokenKey(Redacted.value(options.token))
    const file = path.join(dir, `telegram-${key}.lock`)
    const sidecar = path.join(dir, `telegram-${key}.json`)
    let lock: Option.Option<HeldFileLock>
    try {
      lock = tryLockFileSync(file)
    } catch (error) {
      return Effect.fail(failure(`telegram: cannot take the per-token lock: ${describeError(error)}`, ExitCode.Unavailable))
    }
    if (Option.isNone(lock)) {
      return Effect.fail(failure(
        `telegram: the bot token in $${options.tokenEnv} is already polled by ${describeHolder(sidecar)}; ` +
          "two gateways polling one token get 409 Conflict from the Bot API: stop that gateway, or give this home its own bot",
        ExitCode.Unavailable
      ))
    }
    const self = selfIdentity()
    const record: PollerRecord = { home: options.home, pid: self.pid, start_time: self.startTime, started_at: new Date(now).toISOString() }
    held = { lock: lock.value, sidecar, record }
    try {
      writeJsonAtomicSync(sidecar, record)
      return Effect.void
    } catch (error) {
      return Effect.logWarning(`telegram: cannot write ${sidecar} (a second gateway will not learn who polls): ${describeError(error)}`)
    }
  })
  const release = Effect.sync(() => {
    if (held === undefined) return
    const { lock, record, sidecar } = held
    held = undefined
    const current = readJsonSync(sidecar, PollerRecord)
    if (current._tag === "Valid" && current.value.pid === record.pid && current.value.start_time === record.start_time) {
      fs.rmSync(sidecar, { force: true })
    }
    fs.closeSync(lock.fd)
  }).pipe(Effect.catchAllDefect((defect) => Effect.logWarning(`telegram: releasing the per-token lock: ${describeError(defect)}`)))
  return { take, release }
}

/** For adapters built without a home (tests of the adapter alone): nothing is locked. */
export const noPollerLock: PollerLockSlot = { take: Effect.void, release: Effect.void }
