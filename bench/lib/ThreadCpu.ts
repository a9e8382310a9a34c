// CPU time per thread of a process, from /proc/PID/task/TID/stat (Linux), so a benchmark can tell
// the gateway's event loop from its SessionDB worker thread and from V8's and libuv's helpers.
import * as fs from "node:fs"

const clockTicksPerSecond = 100 // CLK_TCK on Linux

export interface ThreadCpu {
  readonly tid: number
  readonly name: string
  /** utime + stime, ms. */
  readonly ms: number
}

export const threadCpu = (pid: number): ReadonlyArray<ThreadCpu> =>
  fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return [{ tid: Number(tid), name, ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond }]
    } catch {
      return [] // the thread ended between the listing and the read
    }
  })

/** CPU per thread between two readings, ms, by thread id (threads that started in between count from 0). */
export const threadCpuDelta = (before: ReadonlyArray<ThreadCpu>, after: ReadonlyArray<ThreadCpu>): ReadonlyArray<ThreadCpu> => {
  const start = new Map(before.map((t) => [t.tid, t.ms]))
  return after.map((t) => ({ ...t, ms: t.ms - (start.get(t.tid) ?? 0) }))
}
