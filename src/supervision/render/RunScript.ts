// The `run` script shared by the service-directory supervisors (s6, runit): export the environment,
// then `exec` node so the supervised process is the gateway itself, not a shell in front of it.
import * as path from "node:path"
import { environmentFileName } from "../../home/HomePaths.js"
import { type DefinitionInput, generatedMark, runArguments } from "../Definition.js"
import { shellCommand, shellWord } from "../Quoting.js"

export const runScript = (kind: "s6" | "runit", input: DefinitionInput, notes: ReadonlyArray<string>): string => {
  const envFile = shellWord(path.join(input.home, environmentFileName))
  return [
    "#!/bin/sh",
    `# ${input.serviceName}: the Hermes messaging gateway as ${kind === "s6" ? "an" : "a"} ${kind} service.`,
    `# ${generatedMark} (--manager ${kind}); run it again after changing the shutdown budget.`,
    ...notes.map((line) => `# ${line}`),
    "# Secrets (bot token, API keys) as KEY=value lines in the home's env file (mode 0600), if present;",
    "# set -a exports every variable it sets. The two HERMES_ variables below are set after it and win.",
    "# The file is shell code run by this script's user: one owned by anyone else is not loaded.",
    `if [ -f ${envFile} ]; then`,
    `  if [ -O ${envFile} ]; then set -a; . ${envFile}; set +a`,
    `  else echo ${shellWord(`hermes gateway: ${path.join(input.home, environmentFileName)} is not owned by the user running this service; not loaded`)} >&2; fi`,
    "fi",
    "# Without exec, a signal would kill this shell (exit 143) and node would be SIGKILLed mid-drain.",
    `HERMES_SUPERVISOR=${kind}`,
    `HERMES_HOME=${shellWord(input.home)}`,
    "export HERMES_SUPERVISOR HERMES_HOME",
    "# The gateway logs to stderr; a log/ service, if you add one, reads stdout.",
    "exec 2>&1",
    `exec ${shellCommand([input.nodePath, ...runArguments(input.entry, input.home)])}`,
    ""
  ].join("\n")
}
