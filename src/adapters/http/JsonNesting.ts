// How deeply a JSON text nests arrays and objects, found by one linear scan of the raw text before
// it is parsed: JSON.parse copes with any depth, but everything that walks the parsed value
// recursively afterwards (Schema decoding and its error messages, String(), logging) overflows the
// stack on a few kilobytes of brackets.

/**
 * The most levels of arrays and objects a request body may nest. serde_json's default recursion
 * limit; an OpenAI request nests about 5 levels, a tool's JSON Schema rarely more than 20.
 */
export const maxJsonNesting = 128

/**
 * True when `text` opens more than `limit` arrays/objects inside one another. Brackets inside
 * strings do not count. It does not validate: on text that is not JSON it answers about the
 * brackets it sees, and JSON.parse rejects the text afterwards anyway.
 */
export const nestsDeeperThan = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (inString) {
      if (code === 0x5c /* \ */) index++ // the escaped character cannot end the string
      else if (code === 0x22 /* " */) inString = false
    } else if (code === 0x22) {
      inString = true
    } else if (code === 0x5b /* [ */ || code === 0x7b /* { */) {
      depth++
      if (depth > limit) return true
    } else if (code === 0x5d /* ] */ || code === 0x7d /* } */) {
      depth--
    }
  }
  return false
}
