// s6 service directory: run, finish and timeout-kill. s6 restarts whatever is wanted up, so the
// finish script turns 0 and 78 into "stay down" (exit 125); timeout-kill bounds a stop.
import {
  type DefinitionInput,
  type DefinitionFile,
  generatedMark,
  hardDeadlineSeconds,
  killTimeoutSeconds
} from "../Definition.js"
import { runScript } from "./RunScript.js"

const finishScript = (input: DefinitionInput): string =>
  [
    "#!/bin/sh",
    `# ${input.serviceName}: decides whether s6 starts the gateway again.`,
    `# ${generatedMark} (--manager s6).`,
    "# s6-supervise runs this after the gateway exits: $1 is its exit code (256 if a signal killed it),",
    "# $2 the signal. Exit 125 tells s6 to leave the service down, as if `s6-svc -d` had been sent.",
    "case \"$1\" in",
    "  0)",
    "    # planned stop: stays stopped (a stop through s6-svc -d has already said so)",
    "    exit 125 ;;",
    "  78)",
    "    echo \"hermes gateway: invalid configuration or environment (exit 78); not restarting. Fix it, then s6-svc -u this service.\" >&2",
    "    exit 125 ;;",
    "  69)",
    "    # could not start (home held, port in use): give the other holder a moment; s6 allows 5 s here",
    "    sleep 3 ;;",
    "esac",
    "# 1, 70, 75 and a signal death: s6 starts it again at once",
    "exit 0",
    ""
  ].join("\n")

export const renderS6 = (input: DefinitionInput): ReadonlyArray<DefinitionFile> => {
  const kill = killTimeoutSeconds(input.budget)
  return [
    {
      path: "run",
      content: runScript("s6", input, [
        "s6 has no stop hook: `hermes gateway stop` writes the planned-stop marker, then runs s6-svc -d.",
        "A bare `s6-svc -d` is an unmarked SIGTERM: the gateway exits 1 (unplanned) and stays down.",
        `timeout-kill holds the SIGKILL deadline: hard shutdown deadline ${hardDeadlineSeconds(input.budget)}s + 5s = ${kill}s.`
      ]),
      mode: 0o755
    },
    { path: "finish", content: finishScript(input), mode: 0o755 },
    // s6 reads a bare number of milliseconds here; without the file a hung stop would wait forever.
    { path: "timeout-kill", content: `${kill * 1000}\n`, mode: 0o644 }
  ]
}
