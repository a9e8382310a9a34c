// Crash-safe JSON files: a reader sees the old document or the new one, never half of either.
// Temp file in the same directory, fsync, rename, fsync the directory; mode 0600.
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { readNoFollowSync, UnsafeHomeFile } from "./SafeOpen.js"

export class FileWriteError extends Data.TaggedError("FileWriteError")<{
  readonly path: string
  readonly message: string
}> {}

/** What a reader found. Anything but Valid is treated as absent by callers, with the reason logged. */
export type FileReading<A> =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Invalid"; readonly reason: string }
  | { readonly _tag: "Valid"; readonly value: A }

/** Who a written file should belong to (see HomeOwner.ts). */
export interface FileOwner {
  readonly uid: number
  readonly gid: number
}

let tempCounter = 0

/** `.<name>.<pid>.<n>.tmp` beside `file`: unique per write, and recognisable as a leftover later. */
const tempFileFor = (file: string): string =>
  path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`)

/**
 * Synchronous on purpose: it is also used from the shutdown path where every step must be bounded and ordered.
 * With `owner`, the temp file is chowned before the rename, so the file never appears with the writer's ownership.
 */
export const writeJsonAtomicSync = (file: string, value: unknown, owner?: FileOwner): void => {
  const dir = path.dirname(file)
  const temp = tempFileFor(file)
  // O_EXCL already refuses a name planted in advance; O_NOFOLLOW says so on every system.
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600)
  try {
    fs.writeFileSync(fd, JSON.stringify(value, null, 2) + "\n")
    if (owner !== undefined) chownTo(fd, owner)
    fs.fsyncSync(fd)
  } catch (error) {
    fs.closeSync(fd)
    fs.rmSync(temp, { force: true })
    throw error
  }
  fs.closeSync(fd)
  try {
    fs.renameSync(temp, file)
  } catch (error) {
    fs.rmSync(temp, { force: true })
    throw error
  }
  fsyncDirectory(dir)
}

const chownTo = (fd: number, owner: FileOwner): void => {
  try {
    fs.fchownSync(fd, owner.uid, owner.gid)
  } catch (error) {
    throw new Error(`cannot give it to uid ${owner.uid} gid ${owner.gid}: ${describeError(error)}`)
  }
}

export const fsyncDirectory = (dir: string): void => {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

export const writeJsonAtomic = (file: string, value: unknown, owner?: FileOwner): Effect.Effect<void, FileWriteError> =>
  Effect.try({
    try: () => writeJsonAtomicSync(file, value, owner),
    catch: (error) => new FileWriteError({ path: file, message: `cannot write ${file}: ${describeError(error)}` })
  })

/**
 * The same crash-safe write with every step on libuv's thread pool: for a file rewritten while the
 * gateway serves (the state file follows every change of the status, up to four times a second under
 * load), whose two fsyncs would otherwise stall the event loop for as long as the disk takes.
 * Callers that need order still get it: the Effect ends after the directory's fsync. It cannot be
 * interrupted: a promise is not cancelled, so an interrupted write would go on in the background and
 * could rename an older document over a later one; an interruption waits for it instead.
 */
export const writeJsonAtomicOffLoop = (file: string, value: unknown, owner?: FileOwner): Effect.Effect<void, FileWriteError> =>
  Effect.uninterruptible(Effect.tryPromise({
    try: async () => {
      const dir = path.dirname(file)
      const temp = tempFileFor(file)
      const handle = await fs.promises.open(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600)
      try {
        await handle.writeFile(JSON.stringify(value, null, 2) + "\n")
        if (owner !== undefined) {
          await handle.chown(owner.uid, owner.gid).catch((error: unknown) => {
            throw new Error(`cannot give it to uid ${owner.uid} gid ${owner.gid}: ${describeError(error)}`)
          })
        }
        await handle.sync()
        await handle.close()
        await fs.promises.rename(temp, file)
      } catch (error) {
        await handle.close().catch(() => undefined)
        await fs.promises.rm(temp, { force: true })
        throw error
      }
      const directory = await fs.promises.open(dir, fs.constants.O_RDONLY)
      try {
        await directory.sync()
      } finally {
        await directory.close()
      }
    },
    catch: (error) => new FileWriteError({ path: file, message: `cannot write ${file}: ${describeError(error)}` })
  }))

/**
 * Reads and decodes a JSON file. Never throws: a missing file is Missing; an empty, truncated,
 * malformed or wrongly shaped one is Invalid with a reason. Symlinks are refused (Invalid) because
 * a marker or state file that points elsewhere is either a mistake or an attack.
 */
export const readJsonSync = <A, I>(file: string, schema: Schema.Schema<A, I>): FileReading<A> => {
  let text: string
  try {
    const stat = fs.lstatSync(file)
    if (stat.isSymbolicLink()) return { _tag: "Invalid", reason: `${file} is a symbolic link; refusing to follow it` }
    if (!stat.isFile()) return { _tag: "Invalid", reason: `${file} is not a regular file` }
    // O_NOFOLLOW too: a link swapped in after the lstat is still not followed.
    text = readNoFollowSync(file)
  } catch (error) {
    if (isNotFound(error)) return { _tag: "Missing" }
    if (error instanceof UnsafeHomeFile) {
      return { _tag: "Invalid", reason: error.isLink ? `${file} is a symbolic link; refusing to follow it` : error.message }
    }
    return { _tag: "Invalid", reason: `cannot read ${file}: ${describeError(error)}` }
  }
  if (text.trim() === "") return { _tag: "Invalid", reason: `${file} is empty` }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return { _tag: "Invalid", reason: `${file} is not valid JSON (${describeError(error)})` }
  }
  const decoded = Schema.decodeUnknownEither(schema)(json)
  if (Either.isLeft(decoded)) {
    return { _tag: "Invalid", reason: `${file} has an unexpected shape: ${formatIssue(decoded.left)}` }
  }
  return { _tag: "Valid", value: decoded.right }
}

export const readJson = <A, I>(file: string, schema: Schema.Schema<A, I>): Effect.Effect<FileReading<A>> =>
  Effect.sync(() => readJsonSync(file, schema))

const formatIssue = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ")

export const isNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as NodeJS.ErrnoException).code === "ENOENT"

export const describeError = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

/** Deletes a file if present; a file that is already gone is not an error. */
export const removeFileSync = (file: string): void => {
  fs.rmSync(file, { force: true })
}

/**
 * Temp files of writers that died mid-write (`.<name>.<pid>.<n>.tmp`). No reader ever opens them,
 * but one is left behind per crash: the gateway removes those of dead pids once it holds the lock.
 */
export const removeStaleTempFilesSync = (dir: string, isAlive: (pid: number) => boolean): ReadonlyArray<string> => {
  const removed: Array<string> = []
  let names: ReadonlyArray<string>
  try {
    names = fs.readdirSync(dir)
  } catch {
    return removed
  }
  for (const name of names) {
    const match = /^\..+\.(\d+)\.\d+\.tmp$/.exec(name)
    if (match === null || isAlive(Number(match[1]))) continue
    try {
      fs.rmSync(path.join(dir, name), { force: true })
      removed.push(name)
    } catch {
      // another process's file we may not remove: harmless, a reader never opens it
    }
  }
  return removed
}
