// Bearer-token check for the API routes. Both sides are hashed to a fixed length first so the
// comparison takes the same time whatever the key's length or the first differing byte.
import { createHash, timingSafeEqual } from "node:crypto"

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

export const isAuthorized = (authorization: string | undefined, apiKey: string): boolean => {
  if (authorization === undefined) return false
  const match = /^Bearer[ \t]+(\S.*)$/i.exec(authorization.trim())
  if (match === null) return false
  return timingSafeEqual(digest(match[1]!), digest(apiKey))
}
