// runit service directory: run, finish and control/t. runit restarts whatever is not wanted down,
// so finish marks 0 and 78 down itself; control/t writes the planned-stop marker before `sv down`'s TERM.
import {
  type DefinitionInput,
  type DefinitionFile,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds,
  markArguments
} from "../Definition.js"
import { shellCommand } from "../Quoting.js"
import { runScript } from "./RunScript.js"

const finishScript = (input: DefinitionInput): string =>
  [
    "#!/bin/sh",
    `# ${input.serviceName}: decides whether runit starts the gateway again.`,
    `# ${generatedMark} (--manager runit).`,
    "# runsv runs this in the service directory after the gateway exits: $1 is its exit code (-1 if a",
    "# signal killed it), $2 the raw status. runsv starts again whatever is not wanted down, so for 0",
    "# and 78 this says \"wanted down\" itself: `sv down` (sv needs an absolute path; a bare name means",
    "# /etc/service/NAME), or the same byte written to runsv's control pipe when sv is not on PATH.",
    "# runsv reads that pipe in its own loop, so wait until it shows \"want down\" before exiting:",
    "# otherwise it may handle this script's exit first and start ./run again.",
    "stay_down() {",
    "  sv down \"$PWD\" >/dev/null 2>&1 || printf d > supervise/control",
    "  tries=0",
    "  while [ \"$tries\" -lt 50 ] && ! grep -q \"want down\" supervise/stat 2>/dev/null; do",
    "    sleep 0.1",
    "    tries=$((tries + 1))",
    "  done",
    "}",
    "case \"$1\" in",
    "  0)",
    "    # planned stop: stays stopped (sv down has usually said so already)",
    "    stay_down ;;",
    "  78)",
    "    echo \"hermes gateway: invalid configuration or environment (exit 78); not restarting. Fix it, then sv up this service.\" >&2",
    "    stay_down ;;",
    "  69)",
    "    # could not start (home held, port in use): give the other holder a moment",
    "    sleep 3 ;;",
    "esac",
    "# 1, 70, 75 and a signal death: runsv starts it again at once",
    "exit 0",
    ""
  ].join("\n")

/** The pid comes from runsv's own record at the moment of the stop, so it is a shell expansion, not a literal. */
const markCommand = (input: DefinitionInput): string =>
  markArguments(input.entry, input.home, "")
    .map((word) => (word === "--pid=" ? "--pid=\"$(cat supervise/pid 2>/dev/null)\"" : shellCommand([word])))
    .reduce((line, word) => `${line} ${word}`, shellCommand([input.nodePath]))

const controlTermScript = (input: DefinitionInput): string =>
  [
    "#!/bin/sh",
    `# ${input.serviceName}: runs before runsv sends TERM to the gateway.`,
    `# ${generatedMark} (--manager runit).`,
    "# runsv runs this in the service directory and waits for it. When the service is wanted down",
    "# (sv down, sv stop, sv exit, runsvdir shutting down) the stop is planned, so the marker for the",
    "# running pid is written first and the gateway exits 0. Wanted up (sv restart, sv term) means runit",
    "# starts it again anyway: the TERM stays unmarked, the gateway exits 1 and is restarted.",
    "# It must exit non-zero: runsv sends TERM itself only when this script fails.",
    "case \"$(cat supervise/stat 2>/dev/null)\" in",
    "  *\"want down\"*|*\"want exit\"*)",
    `    ${markCommand(input)} || : ;;`,
    "esac",
    "exit 1",
    ""
  ].join("\n")

export const renderRunit = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => {
  const kill = killTimeoutSeconds(input.budget)
  return [
    {
      path: "run",
      content: runScript("runit", input, [
        "control/t writes the planned-stop marker before `sv down` sends TERM, so sv down exits 0 and stays down.",
        `runit has no kill timeout of its own: \`sv -w ${kill} force-stop DIR\` SIGKILLs after ${kill}s`,
        `(hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s + 5s); a bare \`sv down\` never kills.`
      ]),
      mode: 0o755
    },
    { path: "finish", content: finishScript(input), mode: 0o755 },
    { path: "control/t", content: controlTermScript(input), mode: 0o755 }
  ]
}
