// One renderer per manager, by the name `hermes gateway install --manager` takes. The container
// managers render today's single-gateway definition unless the input asks for replicas.
import type { Manager, Renderer } from "./Definition.js"
import { renderComposeReplicas } from "./render/ComposeReplicas.js"
import { renderDocker } from "./render/Docker.js"
import { renderKubernetes } from "./render/Kubernetes.js"
import { renderKubernetesReplicas } from "./render/KubernetesReplicas.js"
import { renderLaunchd } from "./render/Launchd.js"
import { renderRunit } from "./render/Runit.js"
import { renderS6 } from "./render/S6.js"
import { renderSupervisord } from "./render/Supervisord.js"
import { renderSystemdSystem, renderSystemdUser } from "./render/Systemd.js"

export const renderers: Record<Manager, Renderer> = {
  systemd: renderSystemdUser,
  "systemd-system": renderSystemdSystem,
  launchd: renderLaunchd,
  s6: renderS6,
  runit: renderRunit,
  supervisord: renderSupervisord,
  docker: (input) => input.replication === undefined ? renderDocker(input) : renderComposeReplicas(input, input.replication),
  kubernetes: (input) =>
    input.replication === undefined ? renderKubernetes(input) : renderKubernetesReplicas(input, input.replication)
}
