/**
 * The site's components. Order matters: DNS comes after the services because
 * it serves the names they declare; the gateway last, because it opens the
 * ports every service claimed.
 */
import { ca } from "./ca.js";
import type { Component } from "./component.js";
import { dns } from "./dns.js";
import { gateway } from "./gateway.js";
import { kubespray } from "./kubespray.js";
import { ntp } from "./ntp.js";
import { pypi } from "./pypi.js";
import { registry } from "./registry.js";
import { repos } from "./repos.js";

export const components: Component<unknown>[] = [repos, ca, ntp, registry, pypi, kubespray, dns, gateway] as Component<unknown>[];
