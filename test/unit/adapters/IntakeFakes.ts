// Fake intakes in tests describe a turn by its events only; the outcome-only path (answer) and the
// followed path (follow) are the same events read to their outcome, as a platform would see them
// from the real supervisor.
import { followBySubmit, outcomeOf, type TurnIntake } from "../../../src/adapters/TurnIntake.js"

export const fromSubmit = (intake: Omit<TurnIntake, "answer" | "follow">): TurnIntake => ({
  ...intake,
  answer: (inbound) => outcomeOf(intake.submit(inbound)),
  follow: followBySubmit(intake.submit)
})
