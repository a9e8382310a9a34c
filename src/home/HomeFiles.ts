// Which files and directories in the home belong to the gateway, and whether each is safe to use:
// a real file (or directory) owned by the gateway's user, private (files 0600, directories 0700),
// never a symbolic link. `gateway run` refuses a home where a file it writes in place is a link,
// not a regular file or someone else's (78: the home is misconfigured, a restart cannot fix it),
// and tightens loose modes with a log line; `gateway doctor` reports every problem it finds.
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { auditEnvironmentFile } from "./EnvironmentFileAudit.js"
import type { HomePaths } from "./HomePaths.js"
import { describeKind, privateDirectoryMode, privateFileMode, symlinkProblem } from "./SafeOpen.js"

export type EntryKind = "file" | "directory"

export interface HomeEntry {
  readonly path: string
  readonly kind: EntryKind
  /**
   * Written in place (appended, truncated, or opened by SQLite): a link there would redirect the
   * gateway's writes, so start-up refuses one. The other files are replaced by rename, which
   * replaces a link rather than following it, and their readers treat a link as absent.
   */
  readonly inPlace: boolean
}

/** The SQLite files of the session database, its delivery log and the wasm engine's lock directory. */
export const databaseEntries = (database: string): ReadonlyArray<HomeEntry> => [
  { path: database, kind: "file", inPlace: true },
  { path: `${database}-wal`, kind: "file", inPlace: true },
  { path: `${database}-shm`, kind: "file", inPlace: true },
  { path: `${database}-journal`, kind: "file", inPlace: true },
  { path: `${database}-delivered`, kind: "file", inPlace: true },
  { path: `${database}.lock`, kind: "directory", inPlace: true }
]

/** Everything the gateway creates in the home under a fixed name. */
export const homeEntries = (paths: HomePaths): ReadonlyArray<HomeEntry> => [
  { path: paths.logs, kind: "directory", inPlace: true },
  { path: paths.lifecycleLog, kind: "file", inPlace: true },
  { path: paths.diagnosticLog, kind: "file", inPlace: true },
  ...databaseEntries(paths.database),
  { path: paths.pidFile, kind: "file", inPlace: false },
  { path: paths.state, kind: "file", inPlace: false },
  { path: paths.cleanShutdown, kind: "file", inPlace: false },
  { path: paths.plannedStop, kind: "file", inPlace: false },
  { path: path.join(paths.dir, "telegram_offset.json"), kind: "file", inPlace: false }
]

/** Names the gateway makes in the home besides the fixed ones (temp files, corrupt copies, probes, lock). */
const gatewayNamePattern = /^(\..+\.\d+\.\d+\.tmp|state\.db\.corrupt-.+|\.hermes-probe-.+|gateway\.lock|gateway\.sock)$/
/**
 * What the gateway itself writes under logs/ besides its fixed files: SIGUSR2 diagnostic reports.
 * Other files there (a supervisor's own logs, e.g. supervisord's stdout/stderr files) belong to
 * whoever writes them, under that writer's umask and owner, and are not the gateway's to judge.
 */
const gatewayLogPattern = /^(diagnostic-.+\.(report|summary)\.json|\..+\.\d+\.\d+\.tmp)$/

export type EntryFinding =
  | { readonly _tag: "Unsafe"; readonly file: string; readonly reason: "link" | "kind" | "owner" | "unexaminable"; readonly message: string }
  | { readonly _tag: "Loose"; readonly file: string; readonly mode: number; readonly wanted: number; readonly message: string }

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, "0")}`

/**
 * What is wrong with one entry, by lstat (never following a link). `uid` is the owner it must have.
 * An absent entry has no findings.
 */
export const inspectEntry = (entry: HomeEntry, uid: number | undefined): ReadonlyArray<EntryFinding> => {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(entry.path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return []
    return [{ _tag: "Unsafe", file: entry.path, reason: "unexaminable", message: `${entry.path} cannot be examined: ${(error as Error).message}` }]
  }
  if (stat.isSymbolicLink()) return [{ _tag: "Unsafe", file: entry.path, reason: "link", message: `${entry.path} ${symlinkProblem(entry.path)}` }]
  const rightKind = entry.kind === "directory" ? stat.isDirectory() : stat.isFile() || stat.isSocket()
  if (!rightKind) {
    return [{ _tag: "Unsafe", file: entry.path, reason: "kind", message: `${entry.path} is ${describeKind(stat)}, not a ${entry.kind === "directory" ? "directory" : "regular file"}` }]
  }
  const findings: Array<EntryFinding> = []
  if (uid !== undefined && stat.uid !== uid) {
    findings.push({
      _tag: "Unsafe",
      file: entry.path,
      reason: "owner",
      message: `${entry.path} is owned by uid ${stat.uid}, not by the home's owner (uid ${uid}): \`chown ${uid} ${entry.path}\` or remove it`
    })
  }
  const wanted = entry.kind === "directory" ? privateDirectoryMode : privateFileMode
  if ((stat.mode & 0o077) !== 0) {
    findings.push({
      _tag: "Loose",
      file: entry.path,
      mode: stat.mode & 0o777,
      wanted,
      message: `${entry.path} has mode ${octal(stat.mode)}: readable or writable by others; expected ${octal(wanted)} (\`chmod ${wanted.toString(8)} ${entry.path}\`)`
    })
  }
  return findings
}

/** A link or a foreign file in the home does not go away by restarting: never restarted (78). */
export class UnsafeHomeFiles extends ExitingError("UnsafeHomeFiles", ExitCode.Config)<{
  readonly message: string
  readonly files: ReadonlyArray<string>
}> {}

export interface Tightened {
  readonly file: string
  readonly from: number
  readonly to: number
}

export const describeTightened = (t: Tightened): string =>
  `tightened ${t.file} from mode ${octal(t.from)} to ${octal(t.to)}: the gateway's files are private`

/**
 * Start-up: refuses (UnsafeHomeFiles, 78) when an entry written in place is a link, not a regular
 * file (directory), or another user's; then takes group and other bits off the rest (chmod) and
 * returns what it changed, for the log. Entries replaced by rename are never refused: their readers
 * treat a link as absent and the next write replaces it, and one written by another user is normal
 * (`sudo hermes gateway stop` leaves a root-owned marker or state file, which rename replaces).
 */
export const secureEntriesSync = (
  entries: ReadonlyArray<HomeEntry>,
  uid: number | undefined = currentUid()
): { readonly refused: ReadonlyArray<EntryFinding>; readonly tightened: ReadonlyArray<Tightened> } => {
  const refused: Array<EntryFinding> = []
  const loose: Array<Extract<EntryFinding, { _tag: "Loose" }>> = []
  for (const entry of entries) {
    const findings = inspectEntry(entry, uid)
    const unsafe = findings.filter((f) => f._tag === "Unsafe")
    if (entry.inPlace) refused.push(...unsafe)
    if (unsafe.length === 0) for (const f of findings) if (f._tag === "Loose") loose.push(f)
  }
  if (refused.length > 0) return { refused, tightened: [] }
  const tightened: Array<Tightened> = []
  for (const f of loose) {
    fs.chmodSync(f.file, f.mode & ~0o077)
    tightened.push({ file: f.file, from: f.mode, to: f.mode & ~0o077 })
  }
  return { refused, tightened }
}

export const currentUid = (): number | undefined => (typeof process.getuid === "function" ? process.getuid() : undefined)

/** secureEntriesSync for the whole home, as an Effect that fails with UnsafeHomeFiles. */
export const secureHomeFiles = (paths: HomePaths): Effect.Effect<ReadonlyArray<Tightened>, UnsafeHomeFiles> =>
  Effect.suspend(() => {
    let result: ReturnType<typeof secureEntriesSync>
    try {
      result = secureEntriesSync(homeEntries(paths))
    } catch (error) {
      return Effect.fail(new UnsafeHomeFiles({ message: `home ${paths.dir}: cannot secure its files: ${(error as Error).message}`, files: [] }))
    }
    if (result.refused.length === 0) return Effect.succeed(result.tightened)
    return Effect.fail(
      new UnsafeHomeFiles({
        message: `home ${paths.dir} is misconfigured; the gateway will not start until this is fixed:\n` +
          result.refused.map((f) => `  ${f.message}`).join("\n"),
        files: result.refused.map((f) => f.file)
      })
    )
  })

const listDir = (dir: string): ReadonlyArray<string> => {
  try {
    return fs.readdirSync(dir).sort()
  } catch {
    return []
  }
}

const kindOf = (file: string): EntryKind => {
  try {
    return fs.lstatSync(file).isDirectory() ? "directory" : "file"
  } catch {
    return "file"
  }
}

/**
 * `gateway doctor`: every problem with the gateway's entries in the home (the fixed ones, temp
 * files, corrupt copies, its files under logs/), one message each, without changing anything.
 * The owner they must have is the home's owner. config.yaml is the operator's: it may be a link,
 * but it must not be writable by others (it names the agent and holds secrets).
 */
export const auditHomeFiles = (paths: HomePaths): ReadonlyArray<string> => {
  let owner: number | undefined
  try {
    owner = fs.statSync(paths.dir).uid
  } catch {
    return []
  }
  const fixed = homeEntries(paths)
  const known = new Set(fixed.map((e) => e.path))
  const extra: Array<HomeEntry> = [
    ...listDir(paths.dir)
      .filter((name) => gatewayNamePattern.test(name))
      .map((name) => path.join(paths.dir, name))
      .filter((file) => !known.has(file))
      .map((file) => ({ path: file, kind: kindOf(file), inPlace: false })),
    ...(isRealDirectory(paths.logs) ? listDir(paths.logs) : [])
      .filter((name) => gatewayLogPattern.test(name))
      .map((name) => path.join(paths.logs, name))
      .filter((file) => !known.has(file))
      .map((file) => ({ path: file, kind: kindOf(file), inPlace: false }))
  ]
  const problems = [...fixed, ...extra].flatMap((entry) => inspectEntry(entry, owner)).map((f) => f.message)
  try {
    const config = fs.statSync(paths.config)
    if ((config.mode & 0o022) !== 0) {
      problems.push(`${paths.config} has mode ${octal(config.mode)}: others may change the gateway's configuration (\`chmod 600 ${paths.config}\`)`)
    }
  } catch {
    // absent (defaults) or unreadable: the config check says so
  }
  problems.push(...auditEnvironmentFile(paths.dir, owner))
  return problems
}

const isRealDirectory = (dir: string): boolean => {
  try {
    return fs.lstatSync(dir).isDirectory()
  } catch {
    return false
  }
}
