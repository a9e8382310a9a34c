// Putting rendered definitions on disk and taking them off again: where each manager looks for them,
// what the operator runs next, atomic writes, and the rule that only files we generated are replaced
// or removed (a Dockerfile in the current directory may be the operator's own).
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fsyncDirectory } from "../home/AtomicFile.js"
import { ExitCode, ExitingError } from "../lifecycle/ExitCode.js"
import { type DefinitionFile, generatedMark, type Manager } from "./Definition.js"
import { shellWord } from "./Quoting.js"

export class InstallFailed extends ExitingError("InstallFailed", ExitCode.CommandFailed)<{
  readonly message: string
}> {}

export interface InstallLocation {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly userHome: string
  readonly cwd: string
  /** The gateway's home (s6 and runit keep their service directory in it). */
  readonly home: string
  readonly serviceName: string
}

/** The directory each manager reads definitions from (for s6 and runit: the service directory itself). */
export const defaultOutDir = (manager: Manager, at: InstallLocation): string => {
  switch (manager) {
    case "systemd": {
      const config = at.env.XDG_CONFIG_HOME
      const base = config !== undefined && path.isAbsolute(config) ? config : path.join(at.userHome, ".config")
      return path.join(base, "systemd", "user")
    }
    case "systemd-system":
      return "/etc/systemd/system"
    case "supervisord":
      return "/etc/supervisor/conf.d"
    case "s6":
    case "runit":
      return path.join(at.home, "service", at.serviceName)
    case "launchd":
      return path.join(at.userHome, "Library", "LaunchAgents")
    case "docker":
    case "kubernetes":
      return at.cwd
  }
}

/** Service-directory managers: the out directory is the service, and uninstall removes it too. */
export const isServiceDirectory = (manager: Manager): boolean => manager === "s6" || manager === "runit"

/** What the operator runs after install, one command or hint per line. */
export const nextSteps = (manager: Manager, outDir: string, serviceName: string): ReadonlyArray<string> => {
  const dir = shellWord(outDir)
  switch (manager) {
    case "systemd":
      return [
        `systemctl --user daemon-reload && systemctl --user enable --now ${serviceName}`,
        "# to keep it running while you are logged out, and start it at boot:",
        "loginctl enable-linger \"$USER\""
      ]
    case "systemd-system":
      return [`systemctl daemon-reload && systemctl enable --now ${serviceName}`]
    case "launchd": {
      const daemon = outDir.startsWith("/Library/LaunchDaemons")
      const file = shellWord(path.join(outDir, `${serviceName}.plist`))
      return [daemon ? `sudo launchctl bootstrap system ${file}` : `launchctl bootstrap gui/"$(id -u)" ${file}`]
    }
    case "s6":
      return [
        "# link the service directory into the directory your s6-svscan watches, then rescan, e.g.:",
        `ln -s ${dir} /run/service/ && s6-svscanctl -a /run/service`
      ]
    case "runit":
      return [
        "# link the service directory into the directory your runsvdir watches (it notices within 5 s), e.g.:",
        `ln -s ${dir} /etc/service/`
      ]
    case "supervisord":
      return [
        "# the directory must be included by supervisord.conf ([include] files = ...), then:",
        "supervisorctl reread && supervisorctl update"
      ]
    case "docker":
      return [`cd ${dir} && HERMES_API_KEY=... docker compose up -d --build`]
    case "kubernetes":
      return [
        "# build and push the image from the docker definition, set image: in the file, then:",
        `kubectl create secret generic ${serviceName} --from-literal=api-key=...`,
        `kubectl apply -f ${shellWord(path.join(outDir, `${serviceName}.yaml`))}`
      ]
  }
}

/** What the operator should run before uninstalling, so nothing is left running without its definition. */
export const stopFirst = (manager: Manager, outDir: string, serviceName: string): string => {
  switch (manager) {
    case "systemd":
      return `systemctl --user disable --now ${serviceName}, and afterwards systemctl --user daemon-reload`
    case "systemd-system":
      return `systemctl disable --now ${serviceName}, and afterwards systemctl daemon-reload`
    case "launchd":
      return `hermes gateway stop (it boots the job out of launchd)`
    case "s6":
    case "runit":
      return `hermes gateway stop, then remove the link to ${outDir} from the scan directory`
    case "supervisord":
      return "hermes gateway stop, and afterwards supervisorctl reread && supervisorctl update"
    case "docker":
      return "docker compose down (add -v to delete the home volume as well)"
    case "kubernetes":
      return `kubectl delete -f ${path.join(outDir, `${serviceName}.yaml`)} before removing the file`
  }
}

// ---------------------------------------------------------------------------------------------
// Files

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** A file is ours if it carries the mark; timeout-kill holds a bare number, nothing else fits there. */
export const isGenerated = (relativePath: string, content: string): boolean =>
  content.includes(generatedMark) || (path.basename(relativePath) === "timeout-kill" && /^\d+\s*$/.test(content))

type Existing =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Ours"; readonly same: boolean }
  | { readonly _tag: "Foreign"; readonly reason: string }

const inspect = (file: string, relativePath: string, wanted?: DefinitionFile): Existing => {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { _tag: "Missing" }
    return { _tag: "Foreign", reason: `cannot inspect it: ${errorText(error)}` }
  }
  if (!stat.isFile()) return { _tag: "Foreign", reason: "it is not a regular file" }
  let content: string
  try {
    content = fs.readFileSync(file, "utf8")
  } catch (error) {
    return { _tag: "Foreign", reason: `cannot read it: ${errorText(error)}` }
  }
  if (!isGenerated(relativePath, content)) return { _tag: "Foreign", reason: "it was not generated by hermes gateway install" }
  return {
    _tag: "Ours",
    same: wanted !== undefined && content === wanted.content && (stat.mode & 0o7777) === wanted.mode
  }
}

let tempCounter = 0

/** Temp file in the same directory, fsync, mode, rename, fsync the directory: never half a unit file. */
const writeFileAtomicSync = (file: string, content: string, mode: number): void => {
  const dir = path.dirname(file)
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`)
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
  try {
    fs.writeFileSync(fd, content)
    // Explicitly, because the umask would otherwise decide whether run scripts are executable.
    fs.fchmodSync(fd, mode)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(temp, file)
  } catch (error) {
    attemptClose(fd)
    fs.rmSync(temp, { force: true })
    throw error
  }
  fsyncDirectory(dir)
}

const attemptClose = (fd: number) => {
  try {
    fs.closeSync(fd)
  } catch {
    // already closed
  }
}

export interface WriteReport {
  readonly written: ReadonlyArray<string>
  readonly unchanged: ReadonlyArray<string>
}

/**
 * Writes every file or none: anything in the way that we did not generate stops the install before
 * the first write.
 */
export const writeDefinitions = (
  outDir: string,
  files: ReadonlyArray<DefinitionFile>
): Effect.Effect<WriteReport, InstallFailed> =>
  Effect.try({
    try: () => {
      const plan = files.map((file) => {
        const target = path.join(outDir, file.path)
        return { file, target, existing: inspect(target, file.path, file) }
      })
      const blocked = plan.filter((p) => p.existing._tag === "Foreign")
      if (blocked.length > 0) {
        throw new InstallFailed({
          message: blocked
            .map((p) => `refusing to overwrite ${p.target}: ${(p.existing as { reason: string }).reason}`)
            .join("\n") + "\nmove it away, or install somewhere else with --out DIR"
        })
      }
      const written: Array<string> = []
      const unchanged: Array<string> = []
      for (const { existing, file, target } of plan) {
        if (existing._tag === "Ours" && existing.same) {
          unchanged.push(target)
          continue
        }
        fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 })
        writeFileAtomicSync(target, file.content, file.mode)
        written.push(target)
      }
      return { written, unchanged }
    },
    catch: (error) =>
      error instanceof InstallFailed ? error : new InstallFailed({ message: `cannot install into ${outDir}: ${errorText(error)}` })
  })

export interface RemoveReport {
  readonly removed: ReadonlyArray<string>
  /** Files in place that we did not generate, with the reason they were left. */
  readonly kept: ReadonlyArray<string>
}

/** What s6 and runit create in a service directory themselves: runtime state, safe to remove with it. */
const supervisorRuntime = new Set(["supervise", "event", "down"])

/** Removes the files install writes (only ours), then the service directory when nothing else is in it. */
export const removeDefinitions = (
  outDir: string,
  files: ReadonlyArray<DefinitionFile>,
  serviceDirectory: boolean
): Effect.Effect<RemoveReport, InstallFailed> =>
  Effect.try({
    try: () => {
      const removed: Array<string> = []
      const kept: Array<string> = []
      for (const file of files) {
        const target = path.join(outDir, file.path)
        const existing = inspect(target, file.path)
        if (existing._tag === "Missing") continue
        if (existing._tag === "Foreign") {
          kept.push(`${target} (${existing.reason})`)
          continue
        }
        fs.rmSync(target)
        removed.push(target)
      }
      if (removed.length > 0) fsyncDirectory(outDir)
      // Subdirectories install created (runit's control/) go when they are empty.
      for (const dir of new Set(files.map((f) => path.dirname(f.path)).filter((d) => d !== "."))) {
        const full = path.join(outDir, dir)
        if (fs.existsSync(full) && fs.readdirSync(full).length === 0) fs.rmdirSync(full)
      }
      if (serviceDirectory && fs.existsSync(outDir)) {
        const foreign = fs.readdirSync(outDir).filter((entry) => !supervisorRuntime.has(entry))
        if (foreign.length === 0) {
          fs.rmSync(outDir, { recursive: true })
          removed.push(outDir)
        } else {
          kept.push(`${outDir} (it still holds ${foreign.join(", ")})`)
        }
      }
      return { removed, kept }
    },
    catch: (error) => new InstallFailed({ message: `cannot uninstall from ${outDir}: ${errorText(error)}` })
  })
