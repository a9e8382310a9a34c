// A fake OpenTelemetry collector for the end-to-end tests: OTLP/HTTP on 127.0.0.1:0 recording every
// request (path, content type, raw body), with the spans of JSON bodies decoded. As a black hole it
// accepts connections and never answers, like a collector stuck behind a dead proxy.
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { closeServer, type FakeOwner, listenOnLoopback } from "./LoopbackServer.js"

export interface CollectorRequest {
  readonly path: string
  readonly contentType: string | undefined
  readonly body: Buffer
}

/** A span as a test reads it: attribute values flattened to plain JSON values. */
export interface CollectedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly startNanos: bigint
  readonly endNanos: bigint
  readonly attributes: Readonly<Record<string, unknown>>
  readonly statusCode: number | undefined
  readonly serviceName: unknown
}

const plainValue = (value: Record<string, any>): unknown =>
  "stringValue" in value
    ? value.stringValue
    : "intValue" in value
    ? Number(value.intValue)
    : "doubleValue" in value
    ? value.doubleValue
    : "boolValue" in value
    ? value.boolValue
    : value

const attributesOf = (list: ReadonlyArray<{ key: string; value: Record<string, any> }> | undefined) =>
  Object.fromEntries((list ?? []).map(({ key, value }) => [key, plainValue(value)]))

/** The spans of one OTLP/HTTP JSON body (ExportTraceServiceRequest). */
export const spansOfJson = (body: string): Array<CollectedSpan> => {
  const document = JSON.parse(body)
  return (document.resourceSpans ?? []).flatMap((resourceSpans: any) => {
    const serviceName = attributesOf(resourceSpans.resource?.attributes)["service.name"]
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans: any) =>
      (scopeSpans.spans ?? []).map((span: any): CollectedSpan => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId === undefined || span.parentSpanId === "" ? undefined : span.parentSpanId,
        name: span.name,
        startNanos: BigInt(span.startTimeUnixNano),
        endNanos: BigInt(span.endTimeUnixNano),
        attributes: attributesOf(span.attributes),
        statusCode: span.status?.code,
        serviceName
      }))
    )
  })
}

export class FakeCollector {
  readonly requests: Array<CollectorRequest> = []
  private constructor(readonly port: number) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Every span of every JSON request so far. */
  spans(): Array<CollectedSpan> {
    return this.requests.filter((r) => r.contentType?.startsWith("application/json")).flatMap((r) => spansOfJson(r.body.toString("utf8")))
  }

  static async start(owner: FakeOwner): Promise<FakeCollector> {
    let collector: FakeCollector | undefined
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        collector!.requests.push({ path: req.url ?? "", contentType: req.headers["content-type"], body: Buffer.concat(chunks) })
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
    })
    const port = await listenOnLoopback(server)
    collector = new FakeCollector(port)
    owner.onTestFinished(() => closeServer(server))
    return collector
  }
}

/** Accepts TCP connections and never writes a byte back; counts the connections it took. */
export class BlackHoleCollector {
  connections = 0
  private constructor(readonly port: number) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`
  }

  static async start(owner: FakeOwner): Promise<BlackHoleCollector> {
    const sockets = new Set<net.Socket>()
    let hole: BlackHoleCollector | undefined
    const server = net.createServer((socket) => {
      hole!.connections++
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
      socket.resume()
    })
    const port = await new Promise<number>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
    })
    hole = new BlackHoleCollector(port)
    owner.onTestFinished(() =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
    )
    return hole
  }
}
