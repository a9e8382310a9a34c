// Node's module compile cache (module.enableCompileCache, Node >= 22.1): the bundle's chunks are
// compiled from cached V8 code on every start after the first. Where the cache lives matters: V8
// runs what it finds there, so it must be a directory only this user (or root) can write. Anything
// doubtful (a shared or foreign directory, no home, a read-only disk) means no cache, never a
// failed start. Imports nothing heavy: it runs before the program is loaded.
import * as fs from "node:fs"
import * as module from "node:module"
import * as os from "node:os"
import * as path from "node:path"

export type CompileCacheOutcome =
  | { readonly _tag: "Enabled"; readonly directory: string }
  | { readonly _tag: "Skipped"; readonly reason: string }

/** The directory we choose when the environment names none: the user's own cache directory. */
export const defaultCacheDirectory = (env: NodeJS.ProcessEnv, home: string): string | undefined => {
  const xdg = env.XDG_CACHE_HOME
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : home !== "" && path.isAbsolute(home) ? path.join(home, ".cache") : undefined
  return base === undefined ? undefined : path.join(base, "hermes-gateway", "node-compile-cache")
}

/**
 * Why `dir` cannot hold code we will run, or undefined when it can: each directory from it up to the
 * root is a real directory (no link), owned by `uid` or root, and writable by nobody else. An
 * ancestor that others may write is accepted only with the sticky bit (like /tmp): there nobody but
 * the owner can rename or remove what we own inside it.
 */
export const unsafeCacheDirectory = (dir: string, uid: number): string | undefined => {
  for (const current of selfAndAncestors(dir)) {
    let stat: fs.Stats
    try {
      stat = fs.lstatSync(current)
    } catch (error) {
      return `${current}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`
    }
    if (!stat.isDirectory()) return `${current} is not a directory`
    if (stat.uid !== uid && stat.uid !== 0) return `${current} belongs to uid ${stat.uid}`
    const sticky = (stat.mode & 0o1000) !== 0 && current !== dir
    if ((stat.mode & 0o022) !== 0 && !sticky) return `${current} is writable by others`
  }
  return undefined
}

const selfAndAncestors = (dir: string): ReadonlyArray<string> => {
  const parent = path.dirname(dir)
  return parent === dir ? [dir] : [dir, ...selfAndAncestors(parent)]
}

interface CompileCacheApi {
  readonly enableCompileCache?: (dir?: string) => { readonly status: number; readonly message?: string; readonly directory?: string }
  readonly constants?: { readonly compileCacheStatus?: Record<string, number> }
}

/**
 * Turns the cache on. NODE_COMPILE_CACHE (Node has then already enabled it, in that directory) and
 * NODE_DISABLE_COMPILE_CACHE are the operator's and are left alone. Never throws.
 */
export const enableCompileCache = (
  env: NodeJS.ProcessEnv = process.env,
  api: CompileCacheApi = module as CompileCacheApi
): CompileCacheOutcome => {
  try {
    if (typeof api.enableCompileCache !== "function") return { _tag: "Skipped", reason: `not in Node ${process.version}` }
    if (env.NODE_DISABLE_COMPILE_CACHE !== undefined) return { _tag: "Skipped", reason: "NODE_DISABLE_COMPILE_CACHE is set" }
    if (env.NODE_COMPILE_CACHE !== undefined) return { _tag: "Skipped", reason: "NODE_COMPILE_CACHE is set: Node's own" }
    const uid = process.getuid?.()
    if (uid === undefined) return { _tag: "Skipped", reason: "no user id on this platform" }
    const dir = defaultCacheDirectory(env, os.homedir())
    if (dir === undefined) return { _tag: "Skipped", reason: "no cache directory (no home)" }
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const unsafe = unsafeCacheDirectory(dir, uid)
    if (unsafe !== undefined) return { _tag: "Skipped", reason: unsafe }
    const result = api.enableCompileCache(dir)
    const failed = api.constants?.compileCacheStatus?.FAILED
    if (failed !== undefined && result.status === failed) return { _tag: "Skipped", reason: result.message ?? "failed" }
    return { _tag: "Enabled", directory: result.directory ?? dir }
  } catch (error) {
    return { _tag: "Skipped", reason: error instanceof Error ? error.message : String(error) }
  }
}
