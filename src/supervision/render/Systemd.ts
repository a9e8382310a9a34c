// systemd units: `systemd` is a user unit (started with the user's manager, default.target),
// `systemd-system` a system unit (multi-user.target, optional User=). One template, two scopes.
import {
  type DefinitionInput,
  type DefinitionFile,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds,
  markArguments,
  restartDelaySeconds,
  runArguments,
  startTimeoutSeconds
} from "../Definition.js"
import * as path from "node:path"
import { environmentFileName } from "../../home/HomePaths.js"
import { systemdAssignment, systemdExecLine, systemdExecutable, systemdExecWord, systemdText } from "../Quoting.js"

type Scope = "user" | "system"

const renderUnit = (scope: Scope, input: DefinitionInput): string => {
  const manager = scope === "user" ? "systemd" : "systemd-system"
  const ctl = scope === "user" ? "systemctl --user" : "systemctl"
  const kill = killTimeoutSeconds(input.budget)
  const lines = [
    `# ${input.serviceName}: the Hermes messaging gateway as a systemd ${scope} service.`,
    `# ${generatedMark} (--manager ${manager}); run it again after changing the shutdown budget.`,
    "#",
    "# Exit codes and what this unit does with them:",
    `#   0   planned stop (\`${ctl} stop\`: SIGINT, after ExecStop= wrote the marker): stays stopped`,
    "#   1   SIGTERM nobody announced (plain kill, OOM killer): restarted",
    "#   69  could not start (home held, port in use, no adapter): restarted",
    "#   70  internal defect, or teardown overran its deadline: restarted",
    "#   75  restart requested: a success, restarted (SuccessExitStatus=, RestartForceExitStatus=)",
    "#   78  invalid configuration or environment: never restarted (RestartPreventExitStatus=)",
    `# systemd has one RestartSec= for every restart, so 69 waits the same ${restartDelaySeconds}s as 75 rather than longer;`,
    "# newer systemd (254+) could grow the delay with RestartSteps=, which older versions reject.",
    "",
    "[Unit]",
    `Description=${systemdText(`Hermes messaging gateway (${input.serviceName})`)}`,
    ...(scope === "system" ? ["After=network-online.target", "Wants=network-online.target"] : []),
    "# Exit 78 is the crash-loop breaker. A start-rate limit would also give up on a gateway that is",
    "# only waiting for its port or home to be freed (69), so there is none.",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "# The gateway reports READY=1 and STOPPING=1 through systemd-notify, a child process of its own:",
    "# only NotifyAccess=all lets systemd accept them.",
    "Type=notify",
    "NotifyAccess=all",
    ...(scope === "system" && input.user !== undefined ? [`User=${systemdText(input.user)}`] : []),
    `Environment=${systemdAssignment("HERMES_SUPERVISOR", "systemd")}`,
    `Environment=${systemdAssignment("HERMES_HOME", input.home)}`,
    "# Secrets (TELEGRAM_BOT_TOKEN, the agent's API key, HERMES_ADAPTERS_HTTP_API_KEY) as KEY=value lines,",
    "# mode 0600. systemd reads it before dropping privileges; the leading - makes it optional.",
    `EnvironmentFile=-${systemdText(path.join(input.home, environmentFileName))}`,
    `SyslogIdentifier=${systemdText(input.serviceName)}`,
    "# node itself is the main process: no npm, npx or shell in between to swallow signals.",
    `ExecStart=${systemdExecLine([input.nodePath, ...runArguments(input.entry, input.home)])}`,
    "# Writes the planned-stop marker before systemd sends its stop signal, so `systemctl stop` exits 0 and",
    "# stays stopped even under a drop-in that changes KillSignal=. When the gateway has already exited by",
    "# itself, systemd still runs this with an empty $MAINPID, which leaves `--pid=` empty: a no-op.",
    `ExecStop=${markCommand(input)}`,
    "Restart=on-failure",
    `RestartSec=${restartDelaySeconds}s`,
    "RestartPreventExitStatus=78",
    "# A requested restart is a success: not logged as a failure, no Result=exit-code for ExecStopPost= or",
    "# OnFailure= to act on. RestartForceExitStatus= restarts it all the same, whatever Restart= says.",
    "SuccessExitStatus=75",
    "RestartForceExitStatus=75",
    "# systemd's own stop sends SIGINT, which the gateway always treats as a planned stop. That covers the",
    "# stops ExecStop= never sees: systemd skips ExecStop= for a unit still activating (before READY=1) and",
    "# sends the kill signal at once. A SIGTERM from anyone else (plain kill, OOM handling) stays unplanned.",
    "# The signal goes to the gateway alone (it drains in-flight turns); SIGKILL to whatever is left at the timeout.",
    "KillMode=mixed",
    "KillSignal=SIGINT",
    `# Hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s (drain + adapter disconnect + database close + 5s), plus 5s.`,
    `TimeoutStopSec=${kill}s`,
    "# Adapters may use their whole connect timeout before the gateway reports ready.",
    `TimeoutStartSec=${startTimeoutSeconds(input.budget)}s`,
    "",
    "[Install]",
    `WantedBy=${scope === "user" ? "default.target" : "multi-user.target"}`,
    ""
  ]
  return lines.join("\n")
}

/** `${MAINPID}` must stay a variable; everything else in the line is a literal. */
const markCommand = (input: DefinitionInput): string =>
  markArguments(input.entry, input.home, "${MAINPID}")
    .map((word) => (word === "--pid=${MAINPID}" ? word : systemdExecWord(word)))
    .reduce((line, word) => `${line} ${word}`, systemdExecutable(input.nodePath))

const unitFile = (scope: Scope, input: DefinitionInput): DefinitionFile => ({
  path: `${input.serviceName}.service`,
  content: renderUnit(scope, input),
  mode: 0o644
})

export const renderSystemdUser = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => [unitFile("user", input)]

export const renderSystemdSystem = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => [unitFile("system", input)]
