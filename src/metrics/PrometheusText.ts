// Effect's metric snapshot as the Prometheus text exposition format (version 0.0.4). Pure: the
// route takes the snapshot, this turns it into the body. One family per metric name (HELP and TYPE
// once, then every labelled series), families and series sorted so scrapes diff cleanly.
import * as MetricState from "effect/MetricState"
import type * as MetricPair from "effect/MetricPair"
import * as Option from "effect/Option"

export const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

type Labels = ReadonlyArray<readonly [string, string]>

type FamilyType = "counter" | "gauge" | "histogram"

interface Family {
  readonly name: string
  readonly type: FamilyType
  readonly help: string | undefined
  readonly lines: Array<{ readonly sortKey: string; readonly text: ReadonlyArray<string> }>
}

/** HELP text: backslash and line feed are the only characters escaped there. */
export const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** Label values additionally escape the double quote. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

/** Go's ParseFloat spellings, which is what Prometheus reads. */
export const formatSampleValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

const renderLabels = (labels: Labels): string =>
  labels.length === 0 ? "" : `{${labels.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(",")}}`

const sample = (name: string, labels: Labels, value: number | bigint): string =>
  `${name}${renderLabels(labels)} ${formatSampleValue(value)}`

const histogramLines = (name: string, labels: Labels, state: MetricState.MetricState.Histogram): Array<string> => {
  // Effect keeps buckets cumulative and ends them with +Inf; a state built elsewhere may not, and
  // Prometheus requires the +Inf bucket (equal to _count).
  const lines = state.buckets
    .filter(([boundary]) => boundary !== Number.POSITIVE_INFINITY)
    .map(([boundary, cumulative]) => sample(`${name}_bucket`, [...labels, ["le", formatSampleValue(boundary)]], cumulative))
  lines.push(sample(`${name}_bucket`, [...labels, ["le", "+Inf"]], state.count))
  lines.push(sample(`${name}_sum`, labels, state.sum))
  lines.push(sample(`${name}_count`, labels, state.count))
  return lines
}

const seriesOf = (
  name: string,
  labels: Labels,
  state: unknown
): { readonly type: FamilyType; readonly text: ReadonlyArray<string> } | undefined => {
  if (MetricState.isCounterState(state)) return { type: "counter", text: [sample(name, labels, state.count)] }
  if (MetricState.isGaugeState(state)) return { type: "gauge", text: [sample(name, labels, state.value)] }
  if (MetricState.isHistogramState(state)) return { type: "histogram", text: histogramLines(name, labels, state) }
  // Frequencies and summaries are not used by the gateway; left out rather than guessed at.
  return undefined
}

/**
 * The exposition of every metric whose name starts with `prefix` (others, e.g. a library's own,
 * are not ours to publish). Series are sorted by their label text, families by name.
 */
export const renderPrometheus = (
  pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>,
  prefix = "hermes_"
): string => {
  const families = new Map<string, Family>()
  for (const pair of pairs) {
    const key = pair.metricKey
    if (!key.name.startsWith(prefix)) continue
    const labels: Labels = [...key.tags]
      .map((tag) => [tag.key, tag.value] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    const series = seriesOf(key.name, labels, pair.metricState)
    if (series === undefined) continue
    let family = families.get(key.name)
    if (family === undefined) {
      family = { name: key.name, type: series.type, help: Option.getOrUndefined(key.description), lines: [] }
      families.set(key.name, family)
    }
    // Two metrics of one name but different kinds cannot share a family; the first one wins.
    if (family.type !== series.type) continue
    family.lines.push({ sortKey: renderLabels(labels), text: series.text })
  }
  const out: Array<string> = []
  for (const family of [...families.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (family.help !== undefined) out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`)
    out.push(`# TYPE ${family.name} ${family.type}`)
    for (const line of family.lines.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0))) {
      out.push(...line.text)
    }
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}
