// Shared inputs and small helpers for the supervision tests: a fixed input for the golden files,
// a hostile one (spaces, %, $, quotes) for quoting, and ways to run the external checkers.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { budgetOf } from "../../../src/cli/RunCommand.js"
import { defaultConfig } from "../../../src/config/GatewayConfig.js"
import type { DefinitionFile, DefinitionInput, Manager } from "../../../src/supervision/Definition.js"

export const defaultBudget = budgetOf(defaultConfig)

/** The input the golden files are rendered from. */
export const goldenInput = (manager: Manager): DefinitionInput => ({
  nodePath: "/usr/local/bin/node",
  entry: "/opt/hermes-gateway/dist/hermes.js",
  home: "/var/lib/hermes",
  budget: defaultBudget,
  serviceName: "hermes-gateway",
  user: manager === "systemd-system" ? "hermes" : undefined
})

/** Everything a path may legally hold that some format gives a meaning to. */
export const hostileName = `home with space/100% $HOME \${MAINPID} "dq" 'sq' back\\slash`

export const scratchDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `hermes-${prefix}-`))

export const fileNamed = (files: ReadonlyArray<DefinitionFile>, name: string): DefinitionFile => {
  const file = files.find((f) => f.path === name)
  if (file === undefined) throw new Error(`no ${name} among ${files.map((f) => f.path).join(", ")}`)
  return file
}

export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string; readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {}
) => {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    input: options.input,
    cwd: options.cwd,
    env: options.env ?? process.env,
    timeout: 20_000
  })
  if (result.error !== undefined) throw result.error
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

export const hasCommand = (name: string): boolean => run("sh", ["-c", `command -v ${name}`]).status === 0

/** Runs a Python snippet with the content on stdin and returns what it printed as JSON. */
export const python = (script: string, input: string): unknown => {
  const result = run("python3", ["-c", script], { input })
  if (result.status !== 0) throw new Error(`python3 failed (${result.status}): ${result.stderr}`)
  return JSON.parse(result.stdout)
}
