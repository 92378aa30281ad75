/**
 * The site's components. Emission order matters: DNS comes last because it
 * serves the names the others declare.
 */
import { ca } from "./ca.js";
import type { Component } from "./component.js";
import { dns } from "./dns.js";
import { kubespray } from "./kubespray.js";
import { ntp } from "./ntp.js";
import { pypi } from "./pypi.js";
import { registry } from "./registry.js";
import { repos } from "./repos.js";

export const components: Component<unknown>[] = [repos, ca, ntp, registry, pypi, kubespray, dns] as Component<unknown>[];
