// The pure path of configuration loading for tests: YAML text (or no file) plus an environment,
// no disk; a config that must decode, or the error that must come back.
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { GatewayConfig } from "../../../src/config/GatewayConfig.js"
import { type ConfigError, resolveConfig } from "../../../src/config/LoadConfig.js"

export type Env = Record<string, string | undefined>

export const resolve = (text: string | undefined, env: Env = {}) =>
  resolveConfig(text === undefined ? Option.none() : Option.some(text), { file: "config.yaml", env })

export const accepted = (text: string | undefined, env: Env = {}): GatewayConfig =>
  Either.getOrThrowWith(resolve(text, env), (error) => new Error(`expected a config, got: ${error.message}`))

export const rejected = (text: string | undefined, env: Env = {}): ConfigError =>
  Either.match(resolve(text, env), {
    onLeft: (error) => error,
    onRight: () => {
      throw new Error("expected a ConfigError, got a config")
    }
  })
