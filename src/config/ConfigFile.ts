// Reads config.yaml without ever blocking start-up: a FIFO, a device or a socket in its place would
// make a plain read wait for a writer for ever (and a blocked read ignores SIGTERM), and a huge file
// would take the memory. Only a regular file of at most maxConfigBytes is read. A symbolic link to a
// regular file is followed: config management and container mounts often link config.yaml from
// elsewhere, and the home itself is checked to be private (HomeCheck).
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"

/** Far beyond any real config.yaml (a few KiB); larger is refused rather than parsed. */
export const maxConfigBytes = 1024 * 1024

/** Why config.yaml cannot be read; the caller turns it into a ConfigError (78). */
export class ConfigFileProblem {
  readonly _tag = "ConfigFileProblem"
  constructor(readonly message: string) {}
}

const kindOf = (stat: fs.Stats): string =>
  stat.isFIFO()
    ? "a named pipe (FIFO)"
    : stat.isSocket()
    ? "a socket"
    : stat.isCharacterDevice() || stat.isBlockDevice()
    ? "a device"
    : stat.isDirectory()
    ? "a directory"
    : "not a regular file"

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const notRegular = (file: string, stat: fs.Stats) =>
  new ConfigFileProblem(`${file} is ${kindOf(stat)}, not a regular file: replace it with a YAML file`)

const tooLarge = (file: string) =>
  new ConfigFileProblem(`${file} is larger than ${maxConfigBytes} bytes (1 MiB): this is not a config file`)

/** O_NONBLOCK: even if a FIFO appears between the stat and the open, opening it does not wait for a writer. */
const openFlags = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (fs.constants.O_NOCTTY ?? 0)

const readRegular = (file: string): Option.Option<string> | ConfigFileProblem => {
  let before: fs.Stats
  try {
    before = fs.statSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return Option.none()
    return new ConfigFileProblem(`${file}: cannot read: ${errorText(error)}`)
  }
  if (!before.isFile()) return notRegular(file, before)
  if (before.size > maxConfigBytes) return tooLarge(file)
  let fd: number | undefined
  try {
    fd = fs.openSync(file, openFlags)
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) return notRegular(file, stat)
    // One byte more than allowed tells a file that grew since the stat from one that fits.
    const buffer = Buffer.alloc(maxConfigBytes + 1)
    let length = 0
    let read = -1
    while (read !== 0 && length < buffer.length) {
      read = fs.readSync(fd, buffer, length, buffer.length - length, null)
      length += read
    }
    if (length > maxConfigBytes) return tooLarge(file)
    return Option.some(buffer.toString("utf8", 0, length))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return Option.none()
    return new ConfigFileProblem(`${file}: cannot read: ${errorText(error)}`)
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

/** The text of config.yaml; None when there is none (every key has a default). */
export const readConfigText = (file: string): Effect.Effect<Option.Option<string>, ConfigFileProblem> =>
  Effect.suspend(() => {
    const result = readRegular(file)
    return result instanceof ConfigFileProblem ? Effect.fail(result) : Effect.succeed(result)
  })
