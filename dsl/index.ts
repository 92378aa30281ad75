/** What a site file imports: `import { defineSite, fromEnv } from "airgap";` */
export * from "./site.js";
export * from "./secrets.js";
export * from "./services.js";
