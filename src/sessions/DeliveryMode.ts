// How a turn's answer reaches its chat: on the request's own connection (request/response) or pushed
// later (push). It decides whether an interrupted turn can be resumed by a later life.

/** How a platform delivers replies: on the request's own connection, or pushed to a chat later. */
export type Delivery = "request_response" | "push"

/** Platforms whose reply travels on the request itself, unless configured otherwise; every other one is push. */
export const defaultRequestResponsePlatforms: ReadonlyArray<string> = ["http"]
