// supervisord's own XML-RPC interface, reached at the SUPERVISOR_SERVER_URL it sets in its
// children's environment (recorded as supervisor.control.server_url): how the gateway and doctor
// learn the program's stopwaitsecs. Not supervisorctl (a Python client that may be missing, and
// that talks to the system instance when not given the right -c/-s), and no guessing where the
// program's config file lives: the running supervisord is asked what it actually uses.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { nodeHttp } from "../platform/NodeHttp.js"

/** Where to send a request for a server URL: `unix:///path/to.sock` or `http://host:port`. */
export const rpcEndpoint = (
  serverUrl: string
): Option.Option<{ readonly socketPath: string } | { readonly host: string; readonly port: number }> => {
  if (serverUrl.startsWith("unix://")) {
    const socketPath = serverUrl.slice("unix://".length)
    return socketPath.startsWith("/") ? Option.some({ socketPath }) : Option.none()
  }
  try {
    const url = new URL(serverUrl)
    if (url.protocol !== "http:") return Option.none()
    return Option.some({ host: url.hostname, port: url.port === "" ? 80 : Number(url.port) })
  } catch {
    return Option.none()
  }
}

const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" }
const decodeText = (text: string): string => text.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => entities[name]!)

/**
 * The structs of a getAllConfigInfo answer, each member's value as text (arrays left as their raw
 * XML). supervisord's structs are flat, which is all this reader handles; a fault answers none.
 */
export const parseConfigInfo = (xml: string): ReadonlyArray<Readonly<Record<string, string>>> => {
  if (/<fault>/.test(xml)) return []
  return [...xml.matchAll(/<struct>([\s\S]*?)<\/struct>/g)].map(([, body]) =>
    Object.fromEntries(
      [...body!.matchAll(/<member>\s*<name>([^<]*)<\/name>\s*<value>(?:\s*<(\w+)>([\s\S]*?)<\/\2>\s*|([^<]*))<\/value>\s*<\/member>/g)]
        .map(([, name, , typed, untyped]) => [decodeText(name!), decodeText((typed ?? untyped ?? "").trim())])
    )
  )
}

/**
 * stopwaitsecs of the program supervisorctl calls `unit` (`name`, or `group:name` inside a group
 * of another name, as Detection records it). None when the answer does not list it.
 */
export const stopWaitOf = (xml: string, unit: string): Option.Option<Duration.Duration> => {
  const program = parseConfigInfo(xml).find((info) =>
    (info.group === info.name ? info.name : `${info.group}:${info.name}`) === unit
  )
  const seconds = Number(program?.stopwaitsecs ?? Number.NaN)
  return program !== undefined && Number.isInteger(seconds) && seconds >= 0
    ? Option.some(Duration.seconds(seconds))
    : Option.none()
}

const maxAnswerChars = 4 * 1024 * 1024

const methodCall = (method: string): string =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params></params></methodCall>`

/** One parameterless XML-RPC call; None on any failure (no answer, HTTP error such as 401, timeout). */
export const callSupervisord = (serverUrl: string, method: string, timeoutMs = 3_000): Effect.Effect<Option.Option<string>> =>
  Option.match(rpcEndpoint(serverUrl), {
    onNone: () => Effect.succeed(Option.none<string>()),
    onSome: (endpoint) =>
      Effect.async<Option.Option<string>>((resume) => {
        const body = methodCall(method)
        let settled = false
        const settle = (answer: Option.Option<string>) => {
          if (settled) return
          settled = true
          resume(Effect.succeed(answer))
        }
        const request = nodeHttp.request({
          ...endpoint,
          path: "/RPC2",
          method: "POST",
          headers: { "content-type": "text/xml", "content-length": Buffer.byteLength(body) }
        }, (response) => {
          let text = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => {
            text += chunk
            // A config listing is a few kB a program; anything this large is not supervisord.
            if (text.length > maxAnswerChars) response.destroy()
          })
          response.on("close", () => settle(Option.none()))
          response.on("end", () => settle(response.statusCode === 200 ? Option.some(text) : Option.none()))
          response.on("error", () => settle(Option.none()))
        })
        request.on("error", () => settle(Option.none()))
        request.end(body)
        return Effect.sync(() => request.destroy())
      }).pipe(
        // Interrupting the call destroys the request (the cleanup above).
        Effect.timeoutTo({ duration: Duration.millis(timeoutMs), onTimeout: () => Option.none<string>(), onSuccess: (answer) => answer })
      )
  })

/** The program's stopwaitsecs as the running supervisord has it. */
export const readStopWait = (serverUrl: string, unit: string): Effect.Effect<Option.Option<Duration.Duration>> =>
  callSupervisord(serverUrl, "supervisor.getAllConfigInfo").pipe(
    Effect.map(Option.flatMap((xml) => stopWaitOf(xml, unit)))
  )
