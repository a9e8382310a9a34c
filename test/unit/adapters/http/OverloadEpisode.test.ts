import { describe, expect, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { makeBodyBudget } from "../../../../src/adapters/http/BodyBudget.js"
import { calm, type OverloadEpisode, type OverloadNotice, refuse, relieve } from "../../../../src/adapters/http/OverloadEpisode.js"

type Event = { readonly _tag: "Refuse" } | { readonly _tag: "Relieve"; readonly used: number }

const event: FastCheck.Arbitrary<Event> = FastCheck.oneof(
  FastCheck.constant({ _tag: "Refuse" } as const),
  FastCheck.integer({ min: 0, max: 20 }).map((used) => ({ _tag: "Relieve", used }) as const)
)

const recoverAt = 9

const run = (events: ReadonlyArray<Event>): ReadonlyArray<OverloadNotice> => {
  let episode: OverloadEpisode = calm
  const notices: Array<OverloadNotice> = []
  for (const e of events) {
    const [next, notice] = e._tag === "Refuse" ? refuse(episode) : relieve(episode, e.used, recoverAt)
    episode = next
    if (notice !== undefined) notices.push(notice)
  }
  return notices
}

describe("OverloadEpisode", () => {
  it.prop("notices alternate Started, Ended, ... and every refusal is counted in its episode", [FastCheck.array(event, { maxLength: 60 })], ([events]) => {
    const notices = run(events)
    notices.forEach((notice, index) => expect(notice._tag).toBe(index % 2 === 0 ? "Started" : "Ended"))
    const counted = notices.reduce((sum, notice) => sum + (notice._tag === "Ended" ? notice.refused : 0), 0)
    const refusals = events.filter((e) => e._tag === "Refuse").length
    const stillOpen = notices.length % 2 === 1
    if (stillOpen) expect(counted).toBeLessThan(refusals)
    else expect(counted).toBe(refusals)
  })

  it.prop("a flood of refusals at the edge of the limit makes one notice, however long it lasts", [FastCheck.array(FastCheck.integer({ min: recoverAt + 1, max: 20 }), { maxLength: 200 })], ([usage]) => {
    const events: Array<Event> = usage.flatMap((used) => [{ _tag: "Refuse" } as const, { _tag: "Relieve", used } as const])
    expect(run([{ _tag: "Refuse" }, ...events])).toEqual([{ _tag: "Started" }])
  })

  it("relief below the mark ends the episode with its count; without an episode it says nothing", () => {
    expect(run([{ _tag: "Relieve", used: 0 }])).toEqual([])
    expect(run([{ _tag: "Refuse" }, { _tag: "Refuse" }, { _tag: "Relieve", used: recoverAt }])).toEqual([
      { _tag: "Started" },
      { _tag: "Ended", refused: 2 }
    ])
  })
})

describe("BodyBudget", () => {
  type Step = { readonly _tag: "Reserve"; readonly bytes: number } | { readonly _tag: "Release"; readonly index: number }
  const step: FastCheck.Arbitrary<Step> = FastCheck.oneof(
    FastCheck.integer({ min: 0, max: 400 }).map((bytes) => ({ _tag: "Reserve", bytes }) as const),
    FastCheck.nat().map((index) => ({ _tag: "Release", index }) as const)
  )

  it.prop("never holds more than its limit, and gives back exactly what was taken", [FastCheck.array(step, { maxLength: 80 })], ([steps]) => {
    const budget = makeBodyBudget(1000)
    const held: Array<number> = []
    for (const s of steps) {
      if (s._tag === "Reserve") {
        const fits = budget.used() + s.bytes <= 1000
        expect(budget.reserve(s.bytes)).toBe(fits)
        if (fits) held.push(s.bytes)
      } else if (held.length > 0) {
        budget.release(held.splice(s.index % held.length, 1)[0]!)
      }
      expect(budget.used()).toBe(held.reduce((sum, bytes) => sum + bytes, 0))
      expect(budget.used()).toBeLessThanOrEqual(1000)
    }
  })
})
