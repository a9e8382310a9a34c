// launchd property list (macOS): a LaunchAgent by default, a LaunchDaemon when a user is given.
// launchd cannot exclude an exit code from KeepAlive, so 78 is throttled rather than stopped.
import * as path from "node:path"
import {
  type DefinitionInput,
  type DefinitionFile,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds,
  runArguments
} from "../Definition.js"
import { xmlText } from "../Quoting.js"

/**
 * launchd never respawns a job sooner than this after it started, so a start-up failure (69, 78)
 * cannot spin; a gateway that ran longer and exits 75 is respawned at once.
 */
const throttleSeconds = 10

const string = (value: string) => `<string>${xmlText(value)}</string>`

export const renderLaunchd = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => {
  const log = path.join(input.home, "logs", "gateway.log")
  // XML comments may not contain "--": the comment below holds no command line, name or path.
  const content = [
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">",
    "<!--",
    "  The Hermes messaging gateway as a launchd job.",
    `  ${generatedMark} (manager launchd); run it again after changing the shutdown budget.`,
    "",
    "  Exit codes: KeepAlive restarts every unsuccessful exit (1, 69, 70, 75) and leaves a",
    "  successful one (0, a planned stop) stopped. launchd has no way to exclude 78 (invalid",
    "  configuration), so a broken config is retried every ThrottleInterval seconds until it is",
    "  fixed or the job is booted out; the gateway logs the reason each time.",
    "  launchd has no stop hook: hermes gateway stop writes the planned-stop marker and then runs",
    "  launchctl bootout, which is the way to stop this job.",
    "  Secrets: launchd cannot read an env file. Add TELEGRAM_BOT_TOKEN or the agent key to",
    "  EnvironmentVariables below and make this file readable by its owner only (chmod 600).",
    `  ExitTimeOut: hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s plus 5s before SIGKILL.`,
    ...(input.user !== undefined
      ? ["  UserName is honoured for LaunchDaemons only: install this file into /Library/LaunchDaemons."]
      : []),
    "-->",
    "<plist version=\"1.0\">",
    "<dict>",
    "  <key>Label</key>",
    `  ${string(input.serviceName)}`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...[input.nodePath, ...runArguments(input.entry, input.home)].map((arg) => `    ${string(arg)}`),
    "  </array>",
    "  <key>EnvironmentVariables</key>",
    "  <dict>",
    "    <key>HERMES_SUPERVISOR</key>",
    `    ${string("launchd")}`,
    "    <key>HERMES_HOME</key>",
    `    ${string(input.home)}`,
    "  </dict>",
    ...(input.user !== undefined ? ["  <key>UserName</key>", `  ${string(input.user)}`] : []),
    "  <key>RunAtLoad</key>",
    "  <true/>",
    "  <key>KeepAlive</key>",
    "  <dict>",
    "    <key>SuccessfulExit</key>",
    "    <false/>",
    "  </dict>",
    "  <key>ThrottleInterval</key>",
    `  <integer>${throttleSeconds}</integer>`,
    "  <key>ExitTimeOut</key>",
    `  <integer>${killTimeoutSeconds(input.budget)}</integer>`,
    "  <key>StandardOutPath</key>",
    `  ${string(log)}`,
    "  <key>StandardErrorPath</key>",
    `  ${string(log)}`,
    "</dict>",
    "</plist>",
    ""
  ].join("\n")
  return [{ path: `${input.serviceName}.plist`, content, mode: 0o644 }]
}
