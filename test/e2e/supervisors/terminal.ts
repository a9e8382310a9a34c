// A plain terminal as the "supervisor": the gateway is the foreground job, in a process group of
// its own (as a shell's job control puts it), and Ctrl+C is SIGINT to that whole group. Nothing
// restarts anything; a restart is the gateway's own business (CONTRACT 3.4: it starts its successor
// in the same terminal, and Ctrl+C keeps working).
import * as fs from "node:fs"
import type { Home } from "../harness.js"
import {
  cleanEnv,
  type Daemon,
  hermesJs,
  incarnationOf,
  killTree,
  type Scratch,
  startDaemon,
  within
} from "./support.js"

/** The process group of `pid` (field 5 of /proc/PID/stat). */
export const processGroupOf = (pid: number): number | undefined => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[2])
  } catch {
    return undefined
  }
}

export class Terminal {
  readonly job: Daemon

  /** `node dist/hermes.js gateway run --home HOME` as the terminal's foreground job. */
  constructor(scratch: Scratch, readonly home: Home) {
    this.job = startDaemon(process.execPath, [hermesJs, "gateway", "run", "--home", home.dir], {
      env: cleanEnv(),
      logFile: scratch.path("terminal.log")
    })
    const job = this.job
    scratch.defer("close the terminal", async () => {
      if (!job.alive()) return
      await killTree(job.incarnation)
      await within(5_000, "the job's exit", job.exited)
    })
    scratch.describeWith(() => `--- terminal ---\n${job.log()}`)
  }

  /** Ctrl+C: SIGINT to the foreground process group. */
  ctrlC(): void {
    process.kill(-this.job.incarnation.pid, "SIGINT")
  }

  /** The gateway the state file names, if that process is alive (the job itself or its successor). */
  gateway() {
    const state = this.home.readState()
    const incarnation = typeof state?.pid === "number" ? incarnationOf(state.pid) : undefined
    return incarnation !== undefined && incarnation.startTime === String(state?.start_time) ? incarnation : undefined
  }
}
