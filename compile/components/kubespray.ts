/** The Kubernetes deployment: Kubespray's cluster shape and its offline settings. */
import type { KubesprayConfig, Services } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import { checkNoLiteralSecrets, type CoreModel } from "../model/site.js";
import type { Component } from "./component.js";

export interface KubesprayModel {
  version: string;
  kubernetes: string;
  containerRuntime: "containerd" | "crio";
  networkPlugin: string;
  checkout?: string;
  extraVars: Record<string, unknown>;
}

const VERSION = /^\d+\.\d+\.\d+$/;
const RUNTIMES = ["containerd", "crio"];
const PLUGINS = ["calico", "cilium", "flannel", "kube-ovn", "kube-router"];

/** The cluster's shape, checked whenever the site has Kubernetes hosts or a Kubespray service. */
function checkCluster(ctx: Context, core: CoreModel, services: Services): void {
  const k8s = core.hosts.filter((h) => h.roles.some((r) => r !== "admin"));
  if (k8s.length === 0 && !services.kubespray) return;
  const owner = services.kubespray ?? services;
  const key = services.kubespray ? "version" : undefined;
  if (!core.hosts.some((h) => h.roles.includes("control-plane"))) {
    ctx.error("AG050", "the cluster has no control-plane host", owner, key, 'give at least one host roles: ["control-plane", "etcd"]');
  }
  const etcd = core.hosts.filter((h) => h.roles.includes("etcd"));
  if (etcd.length === 0) {
    ctx.error("AG051", "the cluster has no etcd member", owner, key, "etcd needs 1, 3 or 5 members");
  } else if (etcd.length % 2 === 0) {
    ctx.error("AG051", `the cluster has ${etcd.length} etcd members; etcd needs an odd number to keep quorum`, owner, key,
      `etcd members: ${etcd.map((h) => h.name).join(", ")}`);
  }
}

export const kubespray: Component<KubesprayModel> = {
  key: "kubespray",
  resolve(ctx: Context, core: CoreModel, services: Services) {
    checkCluster(ctx, core, services);
    const s: KubesprayConfig | undefined = services.kubespray;
    if (!s) return undefined;
    if (!VERSION.test(s.version ?? "")) ctx.error("AG092", `"${s.version}" is not a Kubespray release number`, s, "version", 'for example "2.28.1"');
    if (!VERSION.test(s.kubernetes ?? "")) ctx.error("AG092", `"${s.kubernetes}" is not a Kubernetes version`, s, "kubernetes", 'for example "1.32.8" (no leading v)');
    const containerRuntime = s.containerRuntime ?? "containerd";
    if (!RUNTIMES.includes(containerRuntime)) ctx.error("AG093", `unknown container runtime "${containerRuntime}"`, s, "containerRuntime", `one of: ${RUNTIMES.join(", ")}`);
    const networkPlugin = s.networkPlugin ?? "calico";
    if (!PLUGINS.includes(networkPlugin)) ctx.error("AG093", `unknown network plugin "${networkPlugin}"`, s, "networkPlugin", `one of: ${PLUGINS.join(", ")}`);
    checkNoLiteralSecrets(ctx, s.extraVars);
    return { version: s.version, kubernetes: s.kubernetes, containerRuntime, networkPlugin, checkout: s.checkout, extraVars: s.extraVars ?? {} };
  },
  emit(m, _core, out) {
    Object.assign(out.kubespray, {
      kube_version: m.kubernetes,
      container_manager: m.containerRuntime,
      kube_network_plugin: m.networkPlugin,
      ...m.extraVars,
    });
    out.addVars("all", { airgap_kubespray_version: m.version });
  },
};
