// supervisord program section. `autorestart=unexpected` with `exitcodes=0,78` is the exit-code
// contract exactly, provided `startsecs=0` (an exit before startsecs is retried whatever its code).
import * as path from "node:path"
import {
  type DefinitionInput,
  type DefinitionFile,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds,
  runArguments
} from "../Definition.js"
import { supervisordCommand, supervisordEnvValue, supervisordPercent } from "../Quoting.js"

export const renderSupervisord = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => {
  const logs = path.join(input.home, "logs")
  const content = [
    `; ${input.serviceName}: the Hermes messaging gateway as a supervisord program.`,
    `; ${generatedMark} (--manager supervisord); run it again after changing the shutdown budget.`,
    ";",
    "; Exit codes: 0 (planned stop) and 78 (invalid configuration) are expected and never restarted;",
    "; 1 (unannounced SIGTERM), 69 (could not start), 70 (defect) and 75 (restart requested) are",
    "; restarted at once. supervisord has no restart delay, so 69 is retried without one.",
    "; supervisord has no stop hook: `hermes gateway stop` writes the planned-stop marker and then runs",
    "; supervisorctl stop. A bare `supervisorctl stop` is an unmarked SIGTERM (exit 1, not restarted",
    "; because supervisorctl stopped it).",
    "; Secrets: supervisord cannot read an env file. Add them to environment= below, e.g.",
    ";   environment=...,TELEGRAM_BOT_TOKEN=\"123:abc\"",
    "; and keep this file readable by root only (chmod 600), or supervisorctl's users can read them.",
    "",
    `[program:${input.serviceName}]`,
    "; supervisord execs this argument vector itself: node is the supervised process, no shell.",
    `command=${supervisordCommand([input.nodePath, ...runArguments(input.entry, input.home)])}`,
    `environment=HERMES_SUPERVISOR=${supervisordEnvValue("supervisord")},HERMES_HOME=${supervisordEnvValue(input.home)}`,
    ...(input.user !== undefined ? [`user=${supervisordPercent(input.user)}`] : []),
    "autostart=true",
    "autorestart=unexpected",
    "exitcodes=0,78",
    "; The gateway is running as soon as it is spawned: a later exit must be judged by its code alone.",
    "startsecs=0",
    "stopsignal=TERM",
    `; Hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s (drain + adapter disconnect + database close + 5s), plus 5s.`,
    `stopwaitsecs=${killTimeoutSeconds(input.budget)}`,
    "; TERM to the gateway alone (it drains); KILL to its whole process group at the deadline.",
    "stopasgroup=false",
    "killasgroup=true",
    "redirect_stderr=false",
    `stdout_logfile=${supervisordPercent(path.join(logs, "supervisord-stdout.log"))}`,
    `stderr_logfile=${supervisordPercent(path.join(logs, "gateway.log"))}`,
    ""
  ].join("\n")
  return [{ path: `${input.serviceName}.conf`, content, mode: 0o644 }]
}
