/**
 * A component is one service of the site (NTP, DNS, repositories, …): it
 * validates and resolves its part of the site, then says what it adds to the
 * compiled project. The shared emitters (inventory, playbooks, Kubespray vars,
 * runbook) assemble what all components add.
 */
import type { Services, Site } from "../../dsl/index.js";
import type { Context } from "../model/context.js";
import type { CoreModel, SecretModel } from "../model/site.js";

/** A play of a compiled playbook: one role, applied to a host pattern. */
export interface Play {
  /** admin.yml (the services), network.yml (routes, gateway), nodes.yml (every host's clients), run in that order. */
  playbook: "admin" | "network" | "nodes";
  name: string;
  hosts: string;
  role: string;
}

/** What a component adds to the compiled project. */
export class Emission {
  /** Inventory groups of ours (`airgap_…`) → member host names. */
  readonly groups = new Map<string, string[]>();
  /** Variables per inventory group (`all` included), written to `inventory/group_vars/<group>/airgap.yml`. */
  readonly groupVars = new Map<string, Record<string, unknown>>();
  /** Variables of single hosts, written into the inventory. */
  readonly hostVars = new Map<string, Record<string, unknown>>();
  /** Plays, in the order components are listed. */
  readonly plays: Play[] = [];
  /** Kubespray's own variables, written to the Kubespray offline vars file. */
  readonly kubespray: Record<string, unknown> = {};
  /** Service names (`ntp`, `registry`, …) the site's DNS serves → address. */
  readonly serviceNames = new Map<string, string>();
  /** Secrets the compiled project reads at run time. */
  readonly secrets: SecretModel[] = [];
  /** Lines for the site's runbook, per component. */
  readonly runbook: { title: string; lines: string[] }[] = [];

  addVars(group: string, vars: Record<string, unknown>): void {
    this.groupVars.set(group, { ...(this.groupVars.get(group) ?? {}), ...vars });
  }

  addHostVars(host: string, vars: Record<string, unknown>): void {
    this.hostVars.set(host, { ...(this.hostVars.get(host) ?? {}), ...vars });
  }

  addGroup(group: string, hosts: string[]): void {
    this.groups.set(group, [...new Set([...(this.groups.get(group) ?? []), ...hosts])]);
  }
}

export interface Component<M> {
  /** The key under `services` in the site file, or the component's own name (`ca`). */
  key: keyof Services | "ca" | "gateway";
  /** Validates and resolves the service; reports errors on `ctx`; undefined when absent or invalid. */
  resolve(ctx: Context, core: CoreModel, services: Services, site?: Site): M | undefined;
  /** Adds the service's groups, variables, plays and Kubespray settings. */
  emit(model: M, core: CoreModel, out: Emission): void;
}

/** The Jinja2 expression that reads a secret at run time. */
export function secretExpression(s: SecretModel): string {
  return s.kind === "env" ? `{{ lookup('ansible.builtin.env', '${s.name}') }}` : `{{ ${s.key} }}`;
}
