// How deeply a YAML text nests, measured on the parser's concrete syntax tree: the yaml package
// builds that tree with a stack of its own, while composing a document (and turning it into data)
// recurses once per level and overflows the call stack at about a thousand. Measuring first lets a
// hostile config.yaml be refused with a message instead of a RangeError.
import * as YAML from "yaml"

/** config.yaml needs five levels (adapters.telegram.allowed_users[i]); anything past this is a mistake. */
export const maxConfigNesting = 64

interface CollectionItem {
  readonly key?: YAML.CST.Token | null
  readonly value?: YAML.CST.Token | null
}

/** The collection items a CST token holds (block maps and sequences, flow collections). */
const itemsOf = (token: YAML.CST.Token): ReadonlyArray<CollectionItem> =>
  token.type === "block-map" || token.type === "block-seq" || token.type === "flow-collection"
    ? token.items
    : []

/**
 * The deepest collection nesting of any document in `text` (0 for a scalar or nothing), counted up
 * to `limit + 1` at most: the walk stops as soon as the text is known to be too deep.
 */
export const yamlNesting = (text: string, limit: number = maxConfigNesting): number => {
  let deepest = 0
  for (const document of new YAML.Parser().parse(text)) {
    if (document.type !== "document" || document.value === undefined) continue
    const pending: Array<readonly [YAML.CST.Token, number]> = [[document.value, 0]]
    let next = pending.pop()
    while (next !== undefined) {
      const [token, depth] = next
      const items = itemsOf(token)
      if (items.length > 0 || token.type === "flow-collection") {
        deepest = Math.max(deepest, depth + 1)
        if (deepest > limit) return deepest
        for (const item of items) {
          if (item.key !== undefined && item.key !== null) pending.push([item.key, depth + 1])
          if (item.value !== undefined && item.value !== null) pending.push([item.value, depth + 1])
        }
      }
      next = pending.pop()
    }
  }
  return deepest
}
