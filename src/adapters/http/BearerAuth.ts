// Bearer-token check for the API routes. Both sides are hashed to a fixed length first so the
// comparison takes the same time whatever the key's length or the first differing byte. The key
// stays Redacted everywhere else; this comparison is the one place that reads it.
import * as Redacted from "effect/Redacted"
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

export const isAuthorized = (authorization: string | undefined, apiKey: Redacted.Redacted<string>): boolean => {
  if (authorization === undefined) return false
  const match = /^Bearer[ \t]+(\S.*)$/i.exec(authorization.trim())
  if (match === null) return false
  return timingSafeEqual(digest(match[1]!), digest(Redacted.value(apiKey)))
}
