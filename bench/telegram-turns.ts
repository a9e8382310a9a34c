// Telegram messages per second through the real gateway, exactly-once machinery included: each
// message is recorded (turn + update_id), acknowledged in the ledger, given a placeholder whose
// message_id is recorded, answered (echo agent, no delay) by editing the placeholder, and marked
// delivered. The Bot API is the loopback fake of the end-to-end tests, so what is measured is the
// gateway, not Telegram. Not part of `npm test`; results in BENCHMARKS.md.
//
//   npm run build && node --import tsx bench/telegram-turns.ts [--messages N] [--chats C] [--runs R]
//
// All N messages are queued before the gateway starts, spread over C chats (a chat's messages run
// one at a time, chats in parallel), so the figure is the gateway's own pace. Each run uses a
// fresh home; the run with the median messages/s is printed.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { FakeTelegram } from "../test/e2e/fakes/FakeTelegram.js"
import { telegramConfig } from "../test/e2e/harness.js"
import { argument } from "./lib/Args.js"

const messages = Number(argument("messages") ?? 1000)
const chats = Number(argument("chats") ?? 10)
const runs = Number(argument("runs") ?? 3)
const hermes = fileURLToPath(new URL("../dist/hermes.js", import.meta.url))
if (!fs.existsSync(hermes)) throw new Error("build first: npm run build")

interface RunResult {
  readonly perSecond: number
  readonly seconds: number
  readonly callsPerMessage: Record<string, number>
}

const oneRun = async (): Promise<RunResult> => {
  const cleanups: Array<() => unknown> = []
  const tg = await FakeTelegram.start({ onTestFinished: (fn) => void cleanups.push(fn) })
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "hermes-bench-"))
  fs.writeFileSync(path.join(home, "config.yaml"), telegramConfig({ botApi: tg, allowedUsers: [], http: false }))
  const pushed = new Set<string>()
  for (let i = 0; i < messages; i++) {
    const text = `c${i % chats}-m${i}`
    tg.push({ chatId: 9000 + (i % chats), text })
    pushed.add(text)
  }
  const child = spawn(process.execPath, [hermes, "gateway", "run", "--home", home], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, TELEGRAM_BOT_TOKEN: tg.token, HERMES_LOG_LEVEL: "warning" }
  })
  let stderr = ""
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  try {
    // The clock starts at the first Bot API call of the run, so start-up is not counted.
    while (tg.calls.length === 0) await new Promise((r) => setTimeout(r, 5))
    const started = tg.calls[0]!.at
    const deadline = Date.now() + 600_000
    // The echo agent answers with the message itself.
    const answered = () => tg.sent.filter((m) => pushed.has(m.text)).length
    while (answered() < messages) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`run did not finish: ${answered()}/${messages}\n${stderr}`)
      await new Promise((r) => setTimeout(r, 20))
    }
    const done = Math.max(...tg.sent.map((m) => m.editedAt ?? m.at))
    const callsPerMessage: Record<string, number> = {}
    for (const call of tg.calls) callsPerMessage[call.method] = (callsPerMessage[call.method] ?? 0) + 1 / messages
    return {
      perSecond: messages / ((done - started) / 1000),
      seconds: (done - started) / 1000,
      callsPerMessage
    }
  } finally {
    child.kill("SIGINT")
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("close", r)))
    for (const cleanup of cleanups) await cleanup()
    fs.rmSync(home, { recursive: true, force: true })
  }
}

const results: Array<RunResult> = []
for (let i = 0; i < runs; i++) results.push(await oneRun())
const median = [...results].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(results.length / 2)]!
const calls = Object.entries(median.callsPerMessage).sort().map(([method, n]) => `${method} ${n.toFixed(2)}`).join(", ")
console.log(`node ${process.version}, ${os.cpus().length} CPU(s), load ${os.loadavg()[0]!.toFixed(2)}, ${messages} messages over ${chats} chats, median of ${runs} run(s)`)
console.log("| messages/s (recorded, acknowledged, answered by edit, delivered) | all answered after s | Bot API calls per message |")
console.log("|---|---|---|")
console.log(`| ${median.perSecond.toFixed(0)} | ${median.seconds.toFixed(1)} | ${calls} |`)
