// The rules of config.yaml that tie several keys together, checked after every key decoded on
// its own (GatewayConfig.ts). Each returns true or the path and reason of the key to blame.
import * as Redacted from "effect/Redacted"
import type { GatewayConfig } from "./GatewayConfig.js"

type ConfigFields = GatewayConfig

/** Off loopback the key is all that keeps strangers from the agent: too short a key is guessable. */
export const minimumRemoteApiKeyLength = 16

/**
 * Loopback means only this machine can connect: 127.0.0.0/8, ::1 (any spelling, bracketed or not,
 * IPv4-mapped too) and `localhost`. Everything else, including 0.0.0.0, is reachable from outside.
 */
export const isLoopbackHost = (host: string): boolean => {
  const name = host.trim().toLowerCase().replace(/\.$/, "")
  if (name === "localhost") return true
  const bare = name.replace(/^\[(.*)\]$/, "$1")
  if (/^127(\.\d{1,3}){3}$/.test(bare)) return bare.split(".").every((octet) => Number(octet) <= 255)
  if (!bare.includes(":")) return false
  try {
    // URL normalises every IPv6 spelling to its compressed form; it does no I/O.
    const normal = new URL(`http://[${bare}]/`).hostname
    return normal === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(normal)
  } catch {
    return false
  }
}

/** Anyone who can reach a non-loopback listener could drive the agent, so it must demand a key. */
export const requireApiKeyOffLoopback = (config: ConfigFields) => {
  const http = config.adapters.http
  if (!http.enabled || isLoopbackHost(http.host)) return true
  if (http.api_key === null) {
    return {
      path: ["adapters", "http", "api_key"],
      message: `required when adapters.http.host is not a loopback address (host is ${JSON.stringify(http.host)}); ` +
        "set an API key, bind to 127.0.0.1, or disable the http adapter"
    }
  }
  const significant = Redacted.value(http.api_key).replace(/\s/g, "").length
  if (significant >= minimumRemoteApiKeyLength) return true
  return {
    path: ["adapters", "http", "api_key"],
    message: `must have at least ${minimumRemoteApiKeyLength} characters other than whitespace when adapters.http.host ` +
      `is not a loopback address (host is ${JSON.stringify(http.host)}; the key has ${significant}); ` +
      "e.g. `openssl rand -hex 32`"
  }
}

/** A gateway with no platform could only sit there: that is a mistake in the file, not an outage (78, not 69). */
export const requireAnAdapter = (config: ConfigFields) => {
  const { http, telegram } = config.adapters
  if (http.enabled || telegram.enabled) return true
  return {
    path: ["adapters", "http", "enabled"],
    message: "no adapter is enabled: set adapters.http.enabled or adapters.telegram.enabled to true"
  }
}

/** The openai agent cannot guess a model: every OpenAI-compatible server needs one named. */
export const requireModelForOpenAi = (config: ConfigFields) => {
  const agent = config.agent
  if (agent.kind !== "openai" || agent.openai.model.trim() !== "") return true
  return {
    path: ["agent", "openai", "model"],
    message: `required when agent.kind is "openai": name the model to ask for (e.g. "llama3.1:8b")`
  }
}

/** A budget smaller than one allowed body would answer 503 to that body for ever. */
export const budgetHoldsOneBody = (config: ConfigFields) => {
  const http = config.adapters.http
  if (http.max_inflight_body_bytes >= http.max_body_bytes) return true
  return {
    path: ["adapters", "http", "max_inflight_body_bytes"],
    message: `must be at least adapters.http.max_body_bytes (${http.max_body_bytes}), got ${http.max_inflight_body_bytes}`
  }
}

