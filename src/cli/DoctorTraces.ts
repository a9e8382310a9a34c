// doctor's look at tracing: silent when no trace endpoint is configured; otherwise where spans go,
// or the same one-line problem (an unusable OTEL_* value) that would make `run` exit 78.
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import { displayUrl, traceSettings } from "../telemetry/TraceSettings.js"
import type { Finding } from "./DoctorFinding.js"

export const traceFindings = (
  telemetry: GatewayConfig["telemetry"],
  env: Readonly<Record<string, string | undefined>>
): ReadonlyArray<Finding> =>
  Either.match(traceSettings(telemetry, env), {
    onLeft: (error) => [{ verdict: "fail", check: "traces", detail: error.message }],
    onRight: Option.match({
      onNone: () => [],
      onSome: (settings) => [{
        verdict: "ok",
        check: "traces",
        detail: `spans go to ${displayUrl(settings.url)} (OTLP ${settings.protocol}, service ${settings.serviceName}; from ${settings.source})`
      }]
    })
  })
