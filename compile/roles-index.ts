/**
 * `npm run build`'s last step: `node dist/compile/roles-index.js` writes what
 * the shipped roles say about themselves (compile/roles.ts) to
 * `dist/compile/roles-index.json`, so that a compile reads no role's YAML
 * unless the role changed since the build. Exits 1, naming the role, when a
 * role does not say it plainly.
 */
import { ROLES_INDEX, writeRolesIndex } from "./roles.js";

try {
  const n = writeRolesIndex();
  process.stdout.write(`roles index: ${n} roles -> ${ROLES_INDEX}\n`);
} catch (err) {
  process.stderr.write(`roles index: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
