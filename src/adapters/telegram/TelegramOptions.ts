// adapters.telegram plus the environment -> the adapter's options, or the config error (exit 78)
// that names the variable when the token is missing.
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as path from "node:path"
import type { GatewayConfig } from "../../config/GatewayConfig.js"
import { ConfigError } from "../../config/LoadConfig.js"
import type { TelegramAdapterOptions } from "./TelegramAdapter.js"

/** The durable record of acknowledged updates, in the home. */
export const telegramLedgerFile = (home: string): string => path.join(home, "telegram_offset.json")

export const telegramOptionsFrom = (
  config: GatewayConfig["adapters"]["telegram"],
  env: Record<string, string | undefined>,
  home: string
): Either.Either<TelegramAdapterOptions & { readonly token: Redacted.Redacted<string> }, ConfigError> => {
  const value = env[config.token_env]
  if (value === undefined || value.trim() === "") {
    return Either.left(
      new ConfigError({
        path: "adapters.telegram.token_env",
        message: `adapters.telegram.token_env: the environment variable ${config.token_env} ` +
          `${value === undefined ? "is not set" : "is empty"}; set it to the bot token from @BotFather, ` +
          "or disable the telegram adapter"
      })
    )
  }
  return Either.right({
    token: Redacted.make(value.trim()),
    tokenEnv: config.token_env,
    apiBaseUrl: config.api_base_url,
    pollTimeout: Duration.decode(config.poll_timeout),
    allowedUsers: config.allowed_users,
    ledgerFile: telegramLedgerFile(home),
    home
  })
}
