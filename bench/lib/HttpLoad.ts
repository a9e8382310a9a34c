// The HTTP side of the benchmark: readiness polls, OpenAI-shaped requests, keep-alive load and the
// event-loop delay scrape. The same for the anchors and the gateway.
import * as http from "node:http"
import { now } from "./Processes.js"
import { percentile } from "./Stats.js"

const noKeepAlive = new http.Agent({ keepAlive: false })

export const readyzStatus = (port: number): Promise<number> =>
  new Promise<number>((resolve) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/readyz", agent: noKeepAlive, timeout: 2000 }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on("error", () => resolve(0))
    request.on("timeout", () => request.destroy())
  })

export interface Answer {
  readonly status: number
  readonly firstByteAt: number
  readonly endAt: number
}

/** POST /v1/chat/completions; `onFirstByte` runs at the first body byte. */
export const postChat = (agent: http.Agent, port: number, body: string, onFirstByte?: () => void): Promise<Answer> =>
  new Promise<Answer>((resolve, reject) => {
    let firstByteAt = 0
    const request = http.request(
      { host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (response) => {
        response.on("data", () => {
          if (firstByteAt === 0) {
            firstByteAt = now()
            onFirstByte?.()
          }
        })
        response.on("end", () => resolve({ status: response.statusCode ?? 0, firstByteAt, endAt: now() }))
        response.on("error", reject)
      }
    )
    request.on("error", reject)
    request.end(body)
  })

export const chatBody = (text: string, user: string, options: { readonly stream?: boolean; readonly history?: ReadonlyArray<{ role: string; content: string }> } = {}): string =>
  JSON.stringify({
    messages: [...(options.history ?? []), { role: "user", content: text }],
    user,
    ...(options.stream ? { stream: true } : {})
  })

export interface LoadResult {
  readonly requests: number
  readonly perSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
}

/**
 * Requests over `connections` keep-alive connections for `seconds` (each connection sends its next
 * request when its answer has arrived); `body(i)` is request i's body, numbered from `offset`.
 */
export const loadFor = async (port: number, seconds: number, connections: number, offset: number, body: (i: number) => string): Promise<LoadResult> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const latencies: Array<number> = []
  let next = offset
  let failed = 0
  const startedAt = now()
  const deadline = startedAt + seconds * 1000
  const connection = async () => {
    while (now() < deadline) {
      const sentAt = now()
      const { status } = await postChat(agent, port, body(next++))
      if (status !== 200) failed++
      latencies.push(now() - sentAt)
    }
  }
  await Promise.all(Array.from({ length: connections }, connection))
  const elapsed = (now() - startedAt) / 1000
  agent.destroy()
  if (failed > 0) throw new Error(`${failed} of ${latencies.length} requests were not answered 200`)
  latencies.sort((a, b) => a - b)
  return { requests: latencies.length, perSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }
}

/** One series' value from GET /metrics (NaN when absent). Also starts the target's next delay window. */
export const scrapeSeries = async (port: number, series: string): Promise<number> => {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1))
}
