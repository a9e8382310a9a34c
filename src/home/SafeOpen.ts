// Opening files and directories in the home without being redirected. A symbolic link (or a FIFO,
// a device, a directory) planted at the name of a file the gateway writes would otherwise make it
// append to, truncate or overwrite whatever the link points at, with the gateway's privileges.
// Every write into the home goes through these helpers: O_NOFOLLOW for regular files, lstat for
// directories, and private modes (files 0600, directories 0700) whatever the umask.
import * as fs from "node:fs"
import * as path from "node:path"

/** A name in the home that is not what the gateway expects there: never written through. */
export class UnsafeHomeFile extends Error {
  readonly _tag = "UnsafeHomeFile"
  constructor(readonly file: string, readonly problem: string, readonly isLink: boolean = false) {
    super(`${file} ${problem}`)
    this.name = "UnsafeHomeFile"
  }
}

export const privateFileMode = 0o600
export const privateDirectoryMode = 0o700

const errnoCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null ? (error as NodeJS.ErrnoException).code : undefined

/** What kind of thing an lstat found, in words for a message. */
export const describeKind = (stat: fs.Stats): string =>
  stat.isSymbolicLink()
    ? "a symbolic link"
    : stat.isDirectory()
    ? "a directory"
    : stat.isFIFO()
    ? "a named pipe"
    : stat.isSocket()
    ? "a socket"
    : stat.isCharacterDevice() || stat.isBlockDevice()
    ? "a device"
    : stat.isFile()
    ? "a regular file"
    : "not a regular file"

const linkTarget = (file: string): string => {
  try {
    return ` (-> ${fs.readlinkSync(file)})`
  } catch {
    return ""
  }
}

/** The sentence for a symbolic link found where the gateway writes. */
export const symlinkProblem = (file: string): string =>
  `is a symbolic link${linkTarget(file)}; the gateway never writes through links in its home: remove it`

const notRegular = (file: string, stat: fs.Stats): UnsafeHomeFile =>
  new UnsafeHomeFile(file, `is ${describeKind(stat)}, not a regular file; the gateway only writes regular files in its home`)

/**
 * Opens a regular file for the gateway's own use: `flags` plus O_NOFOLLOW (and O_NONBLOCK, so a FIFO
 * planted at the name cannot hang the open). Refuses anything but a regular file with an
 * UnsafeHomeFile naming it. A file with group or other permission bits is tightened to `mode`:
 * whatever we write there is private. Returns the descriptor; the caller closes it.
 */
export const openNoFollow = (file: string, flags: number, mode: number = privateFileMode): number => {
  let fd: number
  try {
    fd = fs.openSync(file, flags | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK, mode)
  } catch (error) {
    // Linux says ELOOP for a final-component link under O_NOFOLLOW; some systems say EMLINK/EFTYPE.
    const code = errnoCode(error)
    if (code === "ELOOP" || code === "EMLINK" || code === "EFTYPE") throw new UnsafeHomeFile(file, symlinkProblem(file), true)
    // A FIFO without a reader (ENXIO), a directory opened for writing (EISDIR): say what it is.
    if (code === "ENXIO" || code === "EISDIR") throw notRegular(file, fs.lstatSync(file))
    throw error
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw notRegular(file, stat)
    if ((stat.mode & 0o077) !== 0 && (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR)) !== 0) fs.fchmodSync(fd, mode)
    return fd
  } catch (error) {
    fs.closeSync(fd)
    throw error
  }
}

/** Appends `text` to `file` (created 0600), never through a link; fsynced when asked. */
export const appendNoFollowSync = (file: string, text: string, options: { readonly fsync?: boolean } = {}): void => {
  const fd = openNoFollow(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT)
  try {
    fs.writeSync(fd, text)
    if (options.fsync === true) fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Reads a whole file, never through a link. */
export const readNoFollowSync = (file: string): string => {
  const fd = openNoFollow(file, fs.constants.O_RDONLY)
  try {
    return fs.readFileSync(fd, "utf8")
  } finally {
    fs.closeSync(fd)
  }
}

/** Empties a file in place, never through a link; an absent file stays absent. */
export const truncateNoFollowSync = (file: string): void => {
  let fd: number
  try {
    fd = openNoFollow(file, fs.constants.O_WRONLY)
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return
    throw error
  }
  try {
    fs.ftruncateSync(fd, 0)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Makes sure `dir` is a real directory of ours (0700): created when absent (chmod afterwards, so the
 * umask cannot loosen it), refused when it is a symbolic link (even to a directory: a `logs` link
 * would send the gateway's logs elsewhere) or anything but a directory. Missing parents are
 * created only when asked (the home itself is created and checked by HomeCheck).
 */
export const ensurePrivateDirectorySync = (dir: string, options: { readonly parents?: boolean } = {}): void => {
  if (options.parents === true) fs.mkdirSync(path.dirname(dir), { recursive: true, mode: privateDirectoryMode })
  try {
    fs.mkdirSync(dir, { mode: privateDirectoryMode })
    fs.chmodSync(dir, privateDirectoryMode)
    return
  } catch (error) {
    if (errnoCode(error) !== "EEXIST") throw error
  }
  const stat = fs.lstatSync(dir)
  if (stat.isSymbolicLink()) throw new UnsafeHomeFile(dir, symlinkProblem(dir), true)
  if (!stat.isDirectory()) throw new UnsafeHomeFile(dir, `is ${describeKind(stat)}, not a directory`)
}
