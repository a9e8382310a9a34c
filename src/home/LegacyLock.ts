// Gateways of the previous release held a home with a listening socket in Linux's abstract
// namespace, named from the home's device and inode. During an upgrade one may still run: it must
// keep counting as the home's gateway (a new `run` refuses to start beside it, `stop` can stop it).
// Anyone can bind an abstract name, so the name alone proves nothing: the process gateway.pid names
// counts only if it owns the listening socket of that name itself (its inode among /proc/PID/fd).
import { createHash } from "node:crypto"
import * as fs from "node:fs"

/** The name as /proc/net/unix shows it (`@` for the leading NUL). */
export const legacyLockName = (home: { readonly dev: number | bigint; readonly ino: number | bigint }): string =>
  `@hermes-gateway/${createHash("sha256").update(`${home.dev}:${home.ino}`).digest("hex").slice(0, 40)}`

/** Flag of a listening socket in /proc/net/unix (__SO_ACCEPTCON). */
const acceptingFlag = 0x10000

/**
 * Pure: inodes of listening sockets named `name` in a /proc/net/unix listing. Node binds abstract
 * names with the whole sun_path, so the listing shows them padded with NULs, printed as `@`.
 */
export const listeningInodes = (procNetUnix: string, name: string): ReadonlyArray<string> =>
  procNetUnix.split("\n").slice(1).flatMap((line) => {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 8 || fields[7]!.replace(/@+$/, "") !== name) return []
    return (parseInt(fields[3]!, 16) & acceptingFlag) !== 0 ? [fields[6]!] : []
  })

/** Does `pid` own a listening socket with this home's legacy lock name? Linux only; false on any doubt. */
export const ownsLegacyLock = (pid: number, homeDir: string): boolean => {
  try {
    const name = legacyLockName(fs.statSync(homeDir, { bigint: true }))
    const inodes = new Set(listeningInodes(fs.readFileSync("/proc/net/unix", "utf8"), name))
    if (inodes.size === 0) return false
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
        return match !== null && inodes.has(match[1]!)
      } catch {
        return false
      }
    })
  } catch {
    return false
  }
}
