// The doctor's checks of what the config points at outside the home: each enabled platform's secret
// variable and the agent's, exactly as `run` would read them (a missing one makes `run` exit 78),
// and whether the openai agent's model server answers. Never prints a secret.
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { telegramOptionsFrom } from "../adapters/telegram/TelegramOptions.js"
import { probeModelServer } from "../agents/ModelServerProbe.js"
import { openAiOptionsFrom } from "../agents/OpenAiAgent.js"
import type { GatewayConfig } from "../config/GatewayConfig.js"
import type { Finding } from "./DoctorFinding.js"
import { escapeControls } from "./TerminalText.js"

export const platformFindings = (
  config: GatewayConfig,
  env: Record<string, string | undefined>,
  home: string
): Effect.Effect<ReadonlyArray<Finding>> =>
  Effect.gen(function*() {
    const findings: Array<Finding> = []
    const telegram = config.adapters.telegram
    if (telegram.enabled) {
      Either.match(telegramOptionsFrom(telegram, env, home), {
        onLeft: (error) => findings.push({ verdict: "fail", check: "telegram", detail: error.message }),
        onRight: () =>
          findings.push({ verdict: "ok", check: "telegram", detail: `the bot token variable ${telegram.token_env} is set` })
      })
    }
    if (config.agent.kind !== "openai") return findings
    const openai = config.agent.openai
    const options = openAiOptionsFrom(openai, env)
    if (Either.isLeft(options)) {
      findings.push({ verdict: "fail", check: "agent", detail: options.left.message })
      return findings
    }
    if (openai.api_key_env !== null) {
      findings.push({ verdict: "ok", check: "agent", detail: `the API key variable ${openai.api_key_env} is set` })
    }
    const probe = yield* probeModelServer(options.right, openai.api_key_env)
    if (probe._tag === "Refused") {
      findings.push({ verdict: "fail", check: "model", detail: escapeControls(`GET ${probe.url}: ${probe.reason}`) })
      return findings
    }
    const model = options.right.model
    const listed = Option.match(probe.models, {
      onNone: () => "",
      onSome: (ids) => (ids.includes(model) ? `; it lists ${model}` : "")
    })
    findings.push({ verdict: "ok", check: "model", detail: `GET ${probe.url} answered${listed}` })
    // A server that lists its models and not this one will most likely refuse every turn; some
    // servers accept aliases they do not list, so this is a warning, not a failure.
    if (Option.isSome(probe.models) && probe.models.value.length > 0 && !probe.models.value.includes(model)) {
      findings.push({
        verdict: "warn",
        check: "model",
        detail: `the server does not list agent.openai.model ${JSON.stringify(model)}; it lists ` +
          probe.models.value.slice(0, 10).map((id) => escapeControls(JSON.stringify(id))).join(", ")
      })
    }
    return findings
  })
