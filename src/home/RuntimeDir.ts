// A directory private to this user and shared by all of this user's homes on the machine, for
// locks that span homes (one poller per bot token). $XDG_RUNTIME_DIR/hermes-gateway when the
// session has a runtime dir of ours, else /tmp/hermes-gateway-<uid>. Either is created 0700 and
// checked before use (a directory, not a symlink, ours, mode 0700): in /tmp anyone could have
// made it first, and a lock in a directory someone else controls could be squatted or swapped.
import * as fs from "node:fs"
import * as path from "node:path"

export interface RuntimeDirOptions {
  readonly xdgRuntimeDir: string | undefined
  readonly uid: number | undefined
  readonly tmpDir: string
}

export const runtimeDirOptions = (): RuntimeDirOptions => ({
  xdgRuntimeDir: process.env.XDG_RUNTIME_DIR,
  uid: typeof process.getuid === "function" ? process.getuid() : undefined,
  tmpDir: "/tmp"
})

/** Why `dir` is not a private directory of `uid`, or undefined when it is. */
export const privateDirProblem = (dir: string, uid: number | undefined): string | undefined => {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(dir)
  } catch (error) {
    return `cannot inspect it (${(error as NodeJS.ErrnoException).code ?? String(error)})`
  }
  if (stat.isSymbolicLink()) return "it is a symbolic link"
  if (!stat.isDirectory()) return "it is not a directory"
  if (uid !== undefined && stat.uid !== uid) return `it is owned by uid ${stat.uid}, not by us (uid ${uid})`
  if ((stat.mode & 0o777) !== 0o700) return `its mode is ${(stat.mode & 0o777).toString(8).padStart(4, "0")}, not 0700`
  return undefined
}

/** Creates (0700) and verifies the per-user runtime directory; throws an Error with one clear line. */
export const userRuntimeDirSync = (options: RuntimeDirOptions): string => {
  const xdg = options.xdgRuntimeDir
  const useXdg = xdg !== undefined && path.isAbsolute(xdg) && privateDirProblem(xdg, options.uid) === undefined
  const dir = useXdg
    ? path.join(xdg, "hermes-gateway")
    : path.join(options.tmpDir, `hermes-gateway-${options.uid ?? "user"}`)
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new Error(`cannot create the per-user lock directory ${dir}: ${(error as Error).message}`)
    }
  }
  const problem = privateDirProblem(dir, options.uid)
  if (problem !== undefined) {
    throw new Error(
      `refusing the per-user lock directory ${dir}: ${problem}; remove it (someone else may have created it) ` +
        "or run with XDG_RUNTIME_DIR set to a private directory of this user"
    )
  }
  return dir
}
