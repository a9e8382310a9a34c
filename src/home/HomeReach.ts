// Can this path be a home at all? Asked by every verb before it looks inside, so a home under a
// regular file, behind a directory we may not search, or under a parent that does not exist gets
// one line and exit 78 (CONTRACT 3.1), not a stack trace. A home that is merely absent is fine: `run`
// creates it (one level: a missing parent is a typo or an unmounted volume far more often than a wish).
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"

type ReachExitCode = typeof ExitCode.Config | typeof ExitCode.Unavailable

export class HomeUnreachable extends ExitingError("HomeUnreachable")<{
  readonly message: string
  /** 78, or 69 for an I/O error that may clear by itself. */
  readonly exitCode: ReachExitCode
}> {}

export interface ReachProblem {
  readonly message: string
  readonly exitCode: ReachExitCode
}

const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

const transient: ReadonlySet<string> = new Set(["EIO", "EMFILE", "ENFILE", "EAGAIN", "EBUSY", "ENOMEM"])

/** `dir` and every directory above it, outermost first. */
const ancestry = (dir: string): ReadonlyArray<string> => {
  const parent = path.dirname(dir)
  return parent === dir ? [dir] : [...ancestry(parent), dir]
}

/** The first directory on the way to `dir` that the current user may not search (no x permission). */
const firstUnsearchable = (dir: string): string | undefined =>
  ancestry(path.dirname(dir)).find((step) => {
    try {
      fs.accessSync(step, fs.constants.X_OK)
      return false
    } catch (error) {
      return codeOf(error) === "EACCES"
    }
  })

/** The first entry on the way to `dir` that exists but is not a directory. */
const firstNonDirectory = (dir: string): string | undefined =>
  ancestry(dir).find((step) => {
    try {
      return !fs.statSync(step).isDirectory()
    } catch {
      return false
    }
  })

const uid = (): string => (typeof process.getuid === "function" ? `uid ${process.getuid()}` : "this user")

/** Why the path `dir` fails, from the error the file system gave for it. */
const fromError = (dir: string, error: unknown): ReachProblem => {
  const code = codeOf(error)
  const config = (message: string): ReachProblem => ({ message: `home ${dir}: ${message}`, exitCode: ExitCode.Config })
  switch (code) {
    case "ENOTDIR": {
      const blocker = firstNonDirectory(dir)
      return config(`${blocker ?? "a part of the path"} is not a directory; choose another --home / HERMES_HOME`)
    }
    case "EACCES":
    case "EPERM": {
      const blocker = firstUnsearchable(dir)
      return config(
        blocker !== undefined
          ? `cannot be reached: ${uid()} may not search ${blocker} (it lacks x permission); grant it or choose another home`
          : `cannot be reached: permission denied (${(error as Error).message})`
      )
    }
    case "ELOOP":
      return config("too many levels of symbolic links")
    case "ENAMETOOLONG":
      return config("the path is too long")
    default:
      return {
        message: `home ${dir} cannot be examined: ${error instanceof Error ? error.message : String(error)}`,
        exitCode: code !== undefined && transient.has(code) ? ExitCode.Unavailable : ExitCode.Config
      }
  }
}

/**
 * Undefined when `dir` is a directory, or absent with an existing parent directory; otherwise what
 * is wrong, in one line. Reads only metadata; never creates anything. Permissions inside the home
 * (owner, mode, writability) are HomeCheck's business, for the verbs that write.
 */
export const homeReachProblem = (dir: string): ReachProblem | undefined => {
  try {
    if (fs.statSync(dir).isDirectory()) return undefined
    const real = fs.realpathSync(dir)
    return { message: `home ${dir}${real !== dir ? ` (-> ${real})` : ""} is not a directory`, exitCode: ExitCode.Config }
  } catch (error) {
    if (codeOf(error) !== "ENOENT") return fromError(dir, error)
  }
  try {
    if (fs.lstatSync(dir).isSymbolicLink()) {
      return { message: `home ${dir} is a symbolic link to nothing: create its target or point it elsewhere`, exitCode: ExitCode.Config }
    }
  } catch {
    // absent indeed: look at the parent
  }
  const parent = path.dirname(dir)
  try {
    if (fs.statSync(parent).isDirectory()) return undefined
    return { message: `home ${dir}: ${parent} is not a directory`, exitCode: ExitCode.Config }
  } catch (error) {
    if (codeOf(error) !== "ENOENT") return fromError(dir, error)
    return {
      message: `home ${dir}: its parent directory ${parent} does not exist; create it (only the home itself is created) ` +
        "or fix --home / HERMES_HOME",
      exitCode: ExitCode.Config
    }
  }
}

export const requireHomeReachable = (dir: string): Effect.Effect<void, HomeUnreachable> =>
  Effect.suspend(() => {
    const problem = homeReachProblem(dir)
    return problem === undefined ? Effect.void : Effect.fail(new HomeUnreachable(problem))
  })
