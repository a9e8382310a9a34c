// `npm run test:stress`: the whole suite while other processes keep every core busy. A test that
// passes only on an idle machine waits on time instead of on facts; this run finds it.
// The burners are children of this script and die with it (they also exit when their parent goes).
import { spawn } from "node:child_process"
import * as os from "node:os"

const cores = os.availableParallelism?.() ?? os.cpus().length
const burnerSource = `
const parent = process.ppid
setInterval(() => { try { process.kill(parent, 0) } catch { process.exit(0) } }, 1000).unref()
for (;;) { const end = Date.now() + 50; while (Date.now() < end) {} await new Promise((r) => setImmediate(r)) }`
const burners = Array.from({ length: cores }, () =>
  spawn(process.execPath, ["--input-type=module", "-e", burnerSource], { stdio: "ignore" })
)
const stopBurners = () => burners.forEach((burner) => burner.kill("SIGKILL"))
process.on("exit", stopBurners)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => process.exit(130))

console.log(`test:stress: ${burners.length} busy processes on ${cores} cores, then the whole suite`)
const started = Date.now()
const suite = spawn("npm", ["test", "--", ...process.argv.slice(2)], { stdio: "inherit" })
suite.on("exit", (code, signal) => {
  console.log(`test:stress: suite ended ${signal ?? `code ${code}`} after ${Math.round((Date.now() - started) / 1000)} s`)
  process.exit(code ?? 1)
})
