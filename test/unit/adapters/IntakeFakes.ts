// Fake intakes in tests describe a turn by its events only; the outcome-only path (answer) is the
// same events read to their outcome, as a platform would see it from the real supervisor.
import { outcomeOf, type TurnIntake } from "../../../src/adapters/TurnIntake.js"

export const withAnswer = (intake: Omit<TurnIntake, "answer">): TurnIntake => ({
  ...intake,
  answer: (inbound) => outcomeOf(intake.submit(inbound))
})
