// The processes a benchmark starts, and what /proc says about them. Everything started is killed
// and every temp dir removed when the benchmark exits, even on failure.
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const live = new Set<ChildProcess>()
const tempDirs = new Set<string>()
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL")
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130))

export const now = (): number => performance.now()
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A temp dir removed at exit unless removed before with `removeTempDir`. */
export const makeTempDir = (prefix: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export const removeTempDir = (dir: string): void => {
  fs.rmSync(dir, { recursive: true, force: true })
  tempDirs.delete(dir)
}

export const freePort = (): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

export interface Exit {
  readonly code: number | null
  readonly signal: string | null
  readonly at: number
}

export interface Spawned {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<Exit>
}

export const spawnTracked = (command: string, args: ReadonlyArray<string>, stdio: StdioOptions, env?: NodeJS.ProcessEnv): Spawned => {
  const child = spawn(command, args, { stdio, ...(env !== undefined ? { env } : {}) })
  live.add(child)
  const exited = new Promise<Exit>((resolve) =>
    child.once("exit", (code, signal) => {
      live.delete(child)
      resolve({ code, signal, at: now() })
    })
  )
  return { child, pid: child.pid!, exited }
}

export const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

export const killAndWait = async (spawned: Spawned): Promise<void> => {
  if (!hasExited(spawned.child)) spawned.child.kill("SIGKILL")
  await spawned.exited
}

export const rssMb = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  return match ? Number(match[1]) / 1024 : Number.NaN
}

const clockTicksPerSecond = 100 // CLK_TCK on Linux

/** utime + stime of the process, in ms. */
export const cpuMs = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond
}
