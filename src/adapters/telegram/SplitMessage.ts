// Telegram refuses messages longer than 4096 characters (UTF-16 code units): long replies go out
// as several messages, cut at a paragraph, else a line, else a space, else anywhere.

export const telegramMessageLimit = 4096

const separators = ["\n\n", "\n", " "] as const

export const splitMessage = (text: string, limit: number = telegramMessageLimit): ReadonlyArray<string> => {
  const parts: Array<string> = []
  let rest = text
  while (rest.length > limit) {
    let cut = -1
    let skip = 0
    for (const separator of separators) {
      const at = rest.lastIndexOf(separator, limit - separator.length)
      // A break in the first quarter would leave a uselessly short message: try a finer one.
      if (at >= limit / 4) {
        cut = at
        skip = separator.length
        break
      }
    }
    if (cut < 0) {
      cut = limit
      // Never split a surrogate pair.
      const code = rest.charCodeAt(cut - 1)
      if (code >= 0xd800 && code <= 0xdbff) cut -= 1
    }
    const head = rest.slice(0, cut)
    if (head.trim() !== "") parts.push(head)
    rest = rest.slice(cut + skip)
  }
  if (rest.trim() !== "" || parts.length === 0) parts.push(rest)
  return parts
}
