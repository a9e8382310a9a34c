// Is this home safe and usable before the gateway trusts it (CONTRACT 1)? A home another user can
// write lets them plant planned-stop markers and state files, and a home we cannot write fails only
// later, mid-start or mid-shutdown. Each problem is typed, says how to fix it, and carries its exit code.
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"

type HomeExitCode = typeof ExitCode.Config | typeof ExitCode.Unavailable

export type HomeProblem =
  | { readonly _tag: "CannotCreate"; readonly message: string; readonly code: string | null; readonly exitCode: HomeExitCode }
  | { readonly _tag: "NotADirectory"; readonly message: string; readonly exitCode: HomeExitCode }
  | { readonly _tag: "WrongOwner"; readonly message: string; readonly owner: number; readonly expected: number; readonly exitCode: HomeExitCode }
  | { readonly _tag: "InsecurePermissions"; readonly message: string; readonly mode: number; readonly exitCode: HomeExitCode }
  | { readonly _tag: "ReadOnly"; readonly message: string; readonly exitCode: HomeExitCode }
  | { readonly _tag: "NotWritable"; readonly message: string; readonly code: string | null; readonly exitCode: HomeExitCode }

export interface HomeCheck {
  readonly dir: string
  /** Where the home really is when `dir` is (or passes through) a symbolic link. */
  readonly realDir: string | null
  /** The check created the directory (mode 0700). */
  readonly created: boolean
  readonly problems: ReadonlyArray<HomeProblem>
}

export class HomeUnusable extends ExitingError("HomeUnusable")<{
  readonly message: string
  readonly problems: ReadonlyArray<HomeProblem>
  /** 78 (never restarted) unless every problem may clear by itself (a full disk): then 69. */
  readonly exitCode: HomeExitCode
}> {}

export interface HomeCheckOptions {
  /** Create the home (0700) when it is absent; default true, as `gateway run` does. */
  readonly create?: boolean
  /** The uid that must own the home; default the current one (no check where there is none). */
  readonly uid?: number
}

const codeOf = (error: unknown): string | null =>
  typeof error === "object" && error !== null && typeof (error as NodeJS.ErrnoException).code === "string"
    ? (error as NodeJS.ErrnoException).code!
    : null

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Errors that may clear without anyone changing the setup: a retry later is worth it (69). */
const transient: ReadonlySet<string> = new Set(["ENOSPC", "EDQUOT", "EIO", "EMFILE", "ENFILE", "EAGAIN", "EBUSY"])

/** What a failed write into the home means. */
const writeProblem = (dir: string, what: string, error: unknown): HomeProblem => {
  const code = codeOf(error)
  if (code === "EROFS") {
    return {
      _tag: "ReadOnly",
      message: `home ${dir} is on a read-only file system (${what}): mount it read-write or choose another --home / HERMES_HOME`,
      exitCode: ExitCode.Config
    }
  }
  return {
    _tag: "NotWritable",
    message: `home ${dir} is not writable (${what}: ${describe(error)})` +
      (code === "EACCES" || code === "EPERM" ? ": give the gateway's user write access, or choose another home" : ""),
    code,
    exitCode: code !== null && transient.has(code) ? ExitCode.Unavailable : ExitCode.Config
  }
}

/** Creates, fsyncs and removes a probe file: the first state write must not be the first test. */
const probeWrite = (dir: string): HomeProblem | undefined => {
  const probe = path.join(dir, `.hermes-probe-${process.pid}-${crypto.randomBytes(5).toString("hex")}`)
  let fd: number | undefined
  try {
    fd = fs.openSync(probe, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600)
    fs.writeSync(fd, "hermes write probe\n")
    fs.fsyncSync(fd)
    return undefined
  } catch (error) {
    return writeProblem(dir, "creating a probe file failed", error)
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd)
      } catch {
        // closing a probe cannot matter more than the verdict
      }
      try {
        fs.unlinkSync(probe)
      } catch {
        // left behind at worst; the name says what it is
      }
    }
  }
}

/**
 * `mkdir -p` with the real cause: Node's recursive mkdir reports ENOENT where the file system said
 * EROFS, so once the parent exists the last step is retried without `recursive` to hear the truth.
 */
const mkdirReportingCause = (dir: string): void => {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (error) {
    if (codeOf(error) !== "ENOENT" || !fs.existsSync(path.dirname(dir))) throw error
    fs.mkdirSync(dir, { mode: 0o700 })
  }
}

/**
 * Checks (and by default creates) a home: exists or creatable, a directory, owned by the uid that
 * runs the gateway, not group- or world-writable, writable (probe file). Never throws.
 */
export const checkHomeUsable = (dir: string, options: HomeCheckOptions = {}): HomeCheck => {
  try {
    return examine(dir, options)
  } catch (error) {
    const message = `home ${dir} cannot be examined: ${describe(error)}`
    return { dir, realDir: null, created: false, problems: [{ _tag: "CannotCreate", message, code: codeOf(error), exitCode: ExitCode.Config }] }
  }
}

const examine = (dir: string, options: HomeCheckOptions): HomeCheck => {
  const problems: Array<HomeProblem> = []
  let created = false
  let realDir: string | null = null
  const done = () => ({ dir, realDir, created, problems })

  let link: fs.Stats | undefined
  try {
    link = fs.lstatSync(dir)
  } catch (error) {
    const code = codeOf(error)
    if (code === "ENOTDIR") {
      problems.push({ _tag: "NotADirectory", message: `home ${dir}: a part of the path is not a directory`, exitCode: ExitCode.Config })
      return done()
    }
    if (code !== "ENOENT") {
      problems.push({ _tag: "CannotCreate", message: `home ${dir} cannot be examined: ${describe(error)}`, code, exitCode: ExitCode.Config })
      return done()
    }
    if (options.create === false) {
      problems.push({ _tag: "CannotCreate", message: `home ${dir} does not exist`, code, exitCode: ExitCode.Config })
      return done()
    }
    try {
      mkdirReportingCause(dir)
      created = true
    } catch (mkdirError) {
      const mkdirCode = codeOf(mkdirError)
      problems.push(
        mkdirCode === "EROFS" || mkdirCode === "EACCES" || mkdirCode === "EPERM"
          ? writeProblem(dir, "it does not exist and cannot be created", mkdirError)
          : {
            _tag: "CannotCreate",
            message: `home ${dir} does not exist and cannot be created: ${describe(mkdirError)}`,
            code: mkdirCode,
            exitCode: mkdirCode !== null && transient.has(mkdirCode) ? ExitCode.Unavailable : ExitCode.Config
          }
      )
      return done()
    }
  }

  let stat: fs.Stats
  try {
    stat = fs.statSync(dir)
    const real = fs.realpathSync(dir)
    if (link?.isSymbolicLink() === true || real !== path.resolve(dir)) realDir = real
  } catch (error) {
    problems.push({
      _tag: "CannotCreate",
      message: link?.isSymbolicLink() === true
        ? `home ${dir} is a symbolic link to nothing (${describe(error)}): create its target or point it elsewhere`
        : `home ${dir} cannot be examined: ${describe(error)}`,
      code: codeOf(error),
      exitCode: ExitCode.Config
    })
    return done()
  }
  if (!stat.isDirectory()) {
    problems.push({
      _tag: "NotADirectory",
      message: `home ${dir}${realDir !== null ? ` (-> ${realDir})` : ""} is not a directory`,
      exitCode: ExitCode.Config
    })
    return done()
  }

  const expected = options.uid ?? (typeof process.getuid === "function" ? process.getuid() : undefined)
  if (expected !== undefined && stat.uid !== expected) {
    problems.push({
      _tag: "WrongOwner",
      message: `home ${realDir ?? dir} is owned by uid ${stat.uid}, but the gateway runs as uid ${expected}: ` +
        `run it as the home's owner, or \`chown -R ${expected} ${realDir ?? dir}\``,
      owner: stat.uid,
      expected,
      exitCode: ExitCode.Config
    })
  }
  const mode = stat.mode & 0o7777
  if ((mode & 0o022) !== 0) {
    problems.push({
      _tag: "InsecurePermissions",
      message: `home ${realDir ?? dir} is ${(mode & 0o002) !== 0 ? "world" : "group"}-writable (mode ${mode.toString(8).padStart(4, "0")}): ` +
        `another user could plant a planned-stop marker or state file; \`chmod 700 ${realDir ?? dir}\``,
      mode,
      exitCode: ExitCode.Config
    })
  }
  const writeFailure = probeWrite(dir)
  if (writeFailure !== undefined) problems.push(writeFailure)
  return done()
}

/** The check as an Effect that fails with HomeUnusable (78, or 69 when every problem is transient). */
export const requireHomeUsable = (dir: string, options: HomeCheckOptions = {}): Effect.Effect<HomeCheck, HomeUnusable> =>
  Effect.suspend(() => {
    const check = checkHomeUsable(dir, options)
    if (check.problems.length === 0) return Effect.succeed(check)
    return Effect.fail(
      new HomeUnusable({
        message: check.problems.map((p) => p.message).join("\n"),
        problems: check.problems,
        exitCode: check.problems.every((p) => p.exitCode === ExitCode.Unavailable) ? ExitCode.Unavailable : ExitCode.Config
      })
    )
  })
