import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import { defaultConfig } from "../../../src/config/GatewayConfig.js"
import { type ForeignTurn, leaseClaim, leaseExpired, mayRecover, recoverableByOwner } from "../../../src/replicas/LeaseDecisions.js"
import { defaultReplicaId, replicaIdOf, replicaIdProblem } from "../../../src/replicas/ReplicaIdentity.js"
import { replicaSettingsFrom } from "../../../src/replicas/ReplicaSettings.js"
import { lostTurnProblem } from "../../../src/sessions/TurnOwnership.js"
import { takenOverReason } from "../../../src/replicas/ReplicaRecovery.js"

const leaseMs = 15_000
const turn = (over: Partial<ForeignTurn>): ForeignTurn => ({
  id: "t1",
  owner: "other",
  startedAtMs: 0,
  leaseExpiresAtMs: 10_000,
  ...over
})

describe("leases (database clock)", () => {
  it("a lease is expired only strictly after its end", () => {
    expect(leaseExpired(10_000, 9_999)).toBe(false)
    expect(leaseExpired(10_000, 10_000)).toBe(false)
    expect(leaseExpired(10_000, 10_001)).toBe(true)
  })

  it("never recovers its own turns, however old", () => {
    expect(mayRecover(turn({ owner: "me", leaseExpiresAtMs: 0 }), "me", 1e12, leaseMs)).toBe(false)
  })

  it("recovers another replica's turn only once that replica's lease has expired", () => {
    expect(mayRecover(turn({ leaseExpiresAtMs: 20_000 }), "me", 19_999, leaseMs)).toBe(false)
    expect(mayRecover(turn({ leaseExpiresAtMs: 20_000 }), "me", 20_001, leaseMs)).toBe(true)
  })

  it("an owner without a lease row (or no owner) loses a turn once it is older than a lease", () => {
    expect(mayRecover(turn({ leaseExpiresAtMs: null, startedAtMs: 100_000 }), "me", 100_000 + leaseMs, leaseMs)).toBe(false)
    expect(mayRecover(turn({ leaseExpiresAtMs: null, startedAtMs: 100_000 }), "me", 100_001 + leaseMs, leaseMs)).toBe(true)
    expect(mayRecover(turn({ owner: null, leaseExpiresAtMs: null, startedAtMs: 0 }), "me", 1 + leaseMs, leaseMs)).toBe(true)
  })

  it.prop(
    "a live lease protects its turns whatever the turn's age (replica clocks never decide)",
    [FastCheck.integer({ min: 0, max: 2 ** 40 }), FastCheck.integer({ min: 0, max: 2 ** 40 }), FastCheck.integer({ min: 0, max: 2 ** 40 })],
    ([now, ahead, started]) => {
      expect(mayRecover(turn({ leaseExpiresAtMs: now + ahead, startedAtMs: started }), "me", now, leaseMs)).toBe(false)
    }
  )

  it("groups what is due by owner, leaving live and own turns alone", () => {
    const due = recoverableByOwner([
      turn({ id: "a1", owner: "a", leaseExpiresAtMs: 5 }),
      turn({ id: "a2", owner: "a", leaseExpiresAtMs: 5 }),
      turn({ id: "b1", owner: "b", leaseExpiresAtMs: 50 }),
      turn({ id: "m1", owner: "me", leaseExpiresAtMs: 5 }),
      turn({ id: "n1", owner: null, leaseExpiresAtMs: null, startedAtMs: 0 })
    ], "me", 10, 5)
    expect([...due.entries()]).toEqual([["a", ["a1", "a2"]], [null, ["n1"]]])
  })

  it("a lease row is ours (same host and home), free once expired, else held by another gateway", () => {
    const me = { host: "h", home: "/a" }
    expect(leaseClaim(null, me, 0)).toBe("free")
    expect(leaseClaim({ host: "h", home: "/a", expiresAtMs: 100 }, me, 0)).toBe("ours")
    expect(leaseClaim({ host: "h", home: "/b", expiresAtMs: 100 }, me, 50)).toBe("held")
    expect(leaseClaim({ host: "x", home: "/a", expiresAtMs: 100 }, me, 101)).toBe("free")
  })
})

describe("replica identity", () => {
  it("defaults to the host name and a short hash of the home, stable across restarts", () => {
    const id = defaultReplicaId("gw-7f9c", "/srv/hermes")
    expect(id).toMatch(/^gw-7f9c:[0-9a-f]{8}$/)
    expect(defaultReplicaId("gw-7f9c", "/srv/hermes")).toBe(id)
    expect(defaultReplicaId("gw-7f9c", "/srv/hermes2")).not.toBe(id)
    expect(replicaIdProblem(id)).toBeUndefined()
  })

  it.prop("every default id is a valid id", [FastCheck.string({ maxLength: 300 }), FastCheck.string()], ([host, home]) => {
    expect(replicaIdProblem(defaultReplicaId(host, home))).toBeUndefined()
  })

  it.each(["", " a", "-a", "a b", "a/b", "x".repeat(129), "ü"])("refuses %j", (id) => {
    expect(Either.isLeft(replicaIdOf(id, "h", "/home"))).toBe(true)
  })

  it("takes a configured id as it is", () => {
    expect(replicaIdOf("gateway-0", "h", "/home")).toEqual(Either.right("gateway-0"))
  })
})

describe("replica settings", () => {
  const config = defaultConfig.sessions.postgres
  const where = { hostname: "h", home: "/srv/hermes" }

  it("defaults: lease 15s renewed every 5s", () => {
    const settings = Either.getOrThrow(replicaSettingsFrom(config, where))
    expect(settings.lease).toEqual(Duration.seconds(15))
    expect(settings.renewEvery).toEqual(Duration.seconds(5))
    expect(settings.id).toBe(defaultReplicaId("h", "/srv/hermes"))
  })

  it("a bad replica_id is one config line (78) naming the key", () => {
    const error = Either.getLeft(replicaSettingsFrom({ ...config, replica_id: "a b" }, where)).pipe((o) => (o._tag === "Some" ? o.value : undefined))
    expect(error?.message).toMatch(/^sessions\.postgres\.replica_id: must be 1 to 128 letters/)
    expect(error?.exitCode).toBe(78)
  })

  it("a renewal interval longer than half the lease is refused (78)", () => {
    const error = Either.getLeft(replicaSettingsFrom({ ...config, lease: Duration.seconds(4), lease_renew_every: Duration.seconds(3) }, where))
      .pipe((o) => (o._tag === "Some" ? o.value : undefined))
    expect(error?.message).toBe("sessions.postgres.lease_renew_every: must be at most half of sessions.postgres.lease (4s), got 3s")
    expect(error?.exitCode).toBe(78)
  })
})

describe("fencing", () => {
  it("no owner configured (SQLite): nothing is ever lost", () => {
    expect(lostTurnProblem({ id: "t", status: "running", reason: null, owner: "x" }, undefined)).toBeUndefined()
  })

  it("a running turn another replica owns now is lost", () => {
    expect(lostTurnProblem({ id: "t", status: "running", reason: null, owner: "b" }, "a")).toMatch(/lost to this replica \(a\): replica b runs it now/)
    expect(lostTurnProblem({ id: "t", status: "running", reason: null, owner: "a" }, "a")).toBeUndefined()
  })

  it("a turn recovered from this replica after its lease expired is lost; one it ended itself is not", () => {
    expect(lostTurnProblem({ id: "t", status: "interrupted", reason: takenOverReason("a", "b"), owner: "a" }, "a")).toMatch(/recovered it as interrupted/)
    expect(lostTurnProblem({ id: "t", status: "completed", reason: null, owner: "a" }, "a")).toBeUndefined()
  })
})
