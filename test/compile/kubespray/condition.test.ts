/** Reading Kubespray's `enabled` expressions into airgap's conditions, and evaluating them. */
import assert from "node:assert/strict";
import { evaluate, format, parseCondition, type Cond } from "../../../compile/kubespray/condition.js";

const settings: Record<string, unknown> = { kube_network_plugin: "cilium", helm_enabled: false, dns_mode: "coredns", flag: "True" };
const get = (n: string) => settings[n];

describe("Kubespray conditions", () => {
  const cases: [unknown, Cond, boolean][] = [
    [true, true, true],
    ["{{ helm_enabled }}", { var: "helm_enabled" }, false],
    ["{{ flag | bool }}", { var: "flag" }, true],
    ["{{ kube_network_plugin == 'cilium' or cilium_deploy_additionally }}", { any: [{ var: "kube_network_plugin", eq: "cilium" }, { var: "cilium_deploy_additionally" }] }, true],
    ["{{ dns_mode in ['coredns', 'coredns_dual'] and not helm_enabled }}", { all: [{ var: "dns_mode", in: ["coredns", "coredns_dual"] }, { not: { var: "helm_enabled" } }] }, true],
    ["{{ etcd_deployment_type != 'host' }}", { var: "etcd_deployment_type", ne: "host" }, true],
    ["{{ loadbalancer_apiserver is not defined }}", { not: { defined: "loadbalancer_apiserver" } }, true],
    ["{{ cilium_extra | d(false) }}", { var: "cilium_extra", default: false }, false],
  ];
  for (const [raw, want, value] of cases) {
    it(`reads ${JSON.stringify(raw)}`, () => {
      const got = parseCondition(raw);
      assert.deepEqual(got, want);
      if (!JSON.stringify(raw).includes("etcd_deployment_type")) assert.equal(evaluate(got, get), value);
      else assert.equal(evaluate(got, (n) => (n === "etcd_deployment_type" ? "kubeadm" : undefined)), value);
      assert.ok(format(got).length > 0);
    });
  }

  it("refuses what it cannot read, rather than guess", () => {
    for (const raw of ["{{ foo | length > 0 }}", "{{ a }} {{ b }}", "{{ groups['etcd'] }}", "{{ 'x' == y }}", 42]) {
      assert.throws(() => parseCondition(raw), Error, String(raw));
    }
  });

  it("fails on a setting that has no value and no default", () => {
    assert.throws(() => evaluate({ var: "nowhere" }, () => undefined), /nowhere/);
  });
});
