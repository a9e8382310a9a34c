// One line of `hermes gateway doctor`: what was checked and how it came out. Its own module so the
// per-platform checks and the command that prints them do not import each other.
export type Verdict = "ok" | "warn" | "fail"

export interface Finding {
  readonly verdict: Verdict
  readonly check: string
  readonly detail: string
}
