// A goproxy service whose modules are wrong: an entry without a version, a
// path that is no module path (no dot in its host), a short version, a query,
// a major version the path's suffix contradicts, +incompatible on v0, a
// pseudo-version with an 11-digit commit, the same module twice; go.mod files
// that do not exist, do not parse, or replace a module by a local folder.
import { defineSite } from "airgap";

export default defineSite({
  name: "goproxy",
  domain: "goproxy.internal",
  networks: [{ name: "site", cidr: "10.20.0.0/24" }],
  hosts: [
    { name: "admin", address: "10.20.0.10", os: "debian-12", roles: ["admin"] },
    { name: "build", address: "10.20.0.20", os: "debian-12", go: true },
  ],
  services: {
    goproxy: {
      on: "admin",
      modules: [
        "rsc.io/quote@v1.5.2",
        "github.com/BurntSushi/toml@v1.4.0",
        "golang.org/x/text@v0.0.0-20170915032832-14c0d48ead0c",
        "gopkg.in/yaml.v3@v3.0.1",
        "github.com/docker/docker@v28.0.0+incompatible",
        "golang.org/x/text", // <- AG175
        "fmt@v1.0.0", // <- AG175
        "github.com/google/uuid@v1.6", // <- AG176
        "github.com/google/uuid@latest", // <- AG176
        "example.com/mod/v2@v1.0.0", // <- AG176
        "github.com/pkg/errors@v0.9.1+incompatible", // <- AG176
        "golang.org/x/text@v0.0.0-20170915032832-14c0d48ead0", // <- AG176
        "example.com/Mod//x@v1.0.0", // <- AG175
        "rsc.io/quote@v1.5.2", // <- AG180
      ],
      goMod: [
        "goproxy/ok/go.mod",
        "goproxy/missing/go.mod", // <- AG177
        "goproxy/broken/go.mod", // <- AG178
        "goproxy/local/go.mod", // <- AG179
        "goproxy/ok/go.mod", // <- AG180
      ],
    },
  },
});
