// The one place that obtains service definitions: `hermes gateway install --manager M --out DIR
// --home HOME`, run from the built bundle exactly as an operator would, and the files it wrote read
// back. The suite never carries hand-written copies of a definition; each supervisor harness reads
// what it needs (a unit name, a kill timeout, a preStop command) from these files.
import * as fs from "node:fs"
import * as path from "node:path"
import { hermes } from "./support.js"

export type Manager = "systemd" | "systemd-system" | "launchd" | "s6" | "runit" | "supervisord" | "docker" | "kubernetes"

export interface InstalledDefinition {
  readonly manager: Manager
  /** The directory install wrote into (for s6 and runit: the service directory itself). */
  readonly dir: string
  /** Every regular file under `dir`, by path relative to it. */
  readonly files: ReadonlyMap<string, { readonly content: string; readonly mode: number }>
  /** What install printed (the next steps, the kill timeout it chose). */
  readonly output: string
  /** The content of one file; fails with the list of files when it is not there. */
  readonly read: (relativePath: string) => string
  /** The single file whose name matches, e.g. /\.service$/; fails when there is not exactly one. */
  readonly only: (pattern: RegExp) => { readonly path: string; readonly content: string }
}

let availability: Promise<string | undefined> | undefined

/**
 * Why definitions cannot be generated with this build (undefined when they can): `gateway install`
 * is not in dist/hermes.js yet, or it does not know `--manager`. Asked once per test file.
 */
export const installUnavailable = (): Promise<string | undefined> =>
  (availability ??= hermes(["gateway", "install", "--help"]).then((result) => {
    const text = result.stdout + result.stderr
    if (result.code === 0 && /--manager/.test(text)) return undefined
    return "blocked: `hermes gateway install --manager M` is not available in dist/hermes.js " +
      `(\`gateway install --help\` exited ${result.code}); the suite only installs generated definitions`
  }))

/** Runs `hermes gateway install --manager M --out DIR --home HOME` and reads back what it wrote. */
export const installDefinition = async (
  manager: Manager,
  options: { readonly home: string; readonly outDir: string }
): Promise<InstalledDefinition> => {
  const reason = await installUnavailable()
  if (reason !== undefined) throw new Error(reason)
  const args = ["gateway", "install", "--manager", manager, "--out", options.outDir, "--home", options.home]
  const result = await hermes(args)
  if (result.code !== 0) {
    throw new Error(`hermes ${args.join(" ")} exited ${result.code ?? result.signal}\n${result.stdout}${result.stderr}`)
  }
  const files = new Map<string, { content: string; mode: number }>()
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile()) {
        files.set(path.relative(options.outDir, full), {
          content: fs.readFileSync(full, "utf8"),
          mode: fs.statSync(full).mode & 0o7777
        })
      }
    }
  }
  walk(options.outDir)
  const listing = () => `install wrote: ${[...files.keys()].join(", ") || "nothing"}\n${result.stdout}`
  return {
    manager,
    dir: options.outDir,
    files,
    output: result.stdout,
    read: (relativePath) => {
      const file = files.get(relativePath)
      if (file === undefined) throw new Error(`the ${manager} definition has no ${relativePath}; ${listing()}`)
      return file.content
    },
    only: (pattern) => {
      const matches = [...files.entries()].filter(([name]) => pattern.test(name))
      if (matches.length !== 1) throw new Error(`expected one file matching ${pattern} in the ${manager} definition; ${listing()}`)
      return { path: matches[0]![0], content: matches[0]![1].content }
    }
  }
}
