#!/usr/bin/env bash
# Builds stand-ins for what Kubespray's container-engine roles download
# (containerd, runc, nerdctl, crictl) at the versions a Kubespray release
# pins, from their Go modules (the Go module proxy) with this machine's Go,
# and lays them out as Kubespray's URLs expect them under a files_repo:
#
#   OUT/github.com/containerd/containerd/releases/download/vV/containerd-V-linux-amd64.tar.gz   (bin/containerd, bin/containerd-shim-runc-v2, bin/ctr)
#   OUT/github.com/opencontainers/runc/releases/download/vV/runc.amd64
#   OUT/github.com/containerd/nerdctl/releases/download/vV/nerdctl-V-linux-amd64.tar.gz          (nerdctl)
#   OUT/github.com/kubernetes-sigs/cri-tools/releases/download/vV/crictl-vV-linux-amd64.tar.gz   (crictl)
#
# and OUT/checksums.json: { "<url path under OUT>": "sha256 hex" }. The
# checksums are the stand-ins' own, not upstream's.
#
#   build-engine.sh OUT CONTAINERD_VERSION RUNC_VERSION NERDCTL_VERSION CRICTL_VERSION
#
# Needs go, gcc, git, libseccomp-dev (runc links libseccomp through cgo, as
# upstream's dynamic build does; Debian 12 nodes have libseccomp2). Skips a
# file that is already there. linux/amd64 only. NERDCTL_GIT and CRITOOLS_GIT:
# git directories of containerd/nerdctl and kubernetes-sigs/cri-tools, for
# what the module proxy does not serve (see below).
set -euo pipefail

OUT=$1 CONTAINERD=$2 RUNC=$3 NERDCTL=$4 CRICTL=$5
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK="$OUT/.build"
mkdir -p "$WORK"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOOS=linux GOARCH=amd64

# The module's source from the proxy, copied somewhere writable; prints its
# folder. When the proxy does not serve that version ("This module version is
# not available": sigs.k8s.io/cri-tools v1.35.0, seen), the tag's tree from a
# git directory of the module's repository named by GITVAR (its 4th argument),
# e.g. from fetching github:kubernetes-sigs/cri-tools.
source_of() {
  local mod=$1 ver=$2 name=$3 gitvar=${4:-} dir
  rm -rf "${WORK:?}/$name"
  if dir=$(go mod download -json "$mod@$ver" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])' 2>/dev/null); then
    cp -r "$dir" "$WORK/$name"
    chmod -R u+w "$WORK/$name"
  elif [ -n "$gitvar" ] && [ -n "${!gitvar:-}" ]; then
    echo "the module proxy does not serve $mod@$ver: its tag from \$$gitvar" >&2
    mkdir -p "$WORK/$name"
    git --git-dir="${!gitvar}" archive "$ver" | tar -x -C "$WORK/$name"
  else
    echo "the module proxy does not serve $mod@$ver${gitvar:+; set $gitvar to a git directory of its repository holding tag $ver}" >&2
    return 1
  fi
  echo "$WORK/$name"
}

# tarball OUTFILE DIR: a deterministic tar.gz of DIR's contents, entries
# named as upstream's are (`bin/ctr`, `crictl`; no leading `./`: Kubespray
# unpacks containerd with --strip-components=1).
tarball() {
  mkdir -p "$(dirname "$1")"
  (cd "$2" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - -- *) | gzip -n >"$1.tmp"
  mv "$1.tmp" "$1"
}

C=github.com/containerd/containerd/releases/download/v$CONTAINERD/containerd-$CONTAINERD-linux-amd64.tar.gz
if [ ! -f "$OUT/$C" ]; then
  src=$(source_of github.com/containerd/containerd/v2 "v$CONTAINERD" containerd)
  rm -rf "$WORK/containerd-pkg" && mkdir -p "$WORK/containerd-pkg/bin"
  (cd "$src" && CGO_ENABLED=0 go build -mod=mod -tags "no_btrfs" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD -X github.com/containerd/containerd/v2/version.Revision=airgap-standin" \
    -o "$WORK/containerd-pkg/bin/" ./cmd/containerd ./cmd/containerd-shim-runc-v2 ./cmd/ctr)
  tarball "$OUT/$C" "$WORK/containerd-pkg"
fi

R=github.com/opencontainers/runc/releases/download/v$RUNC/runc.amd64
if [ ! -f "$OUT/$R" ]; then
  src=$(source_of github.com/opencontainers/runc "v$RUNC" runc)
  mkdir -p "$(dirname "$OUT/$R")"
  (cd "$src" && CGO_ENABLED=1 go build -mod=mod -trimpath -tags "seccomp urfave_cli_no_docs" \
    -ldflags "-s -w -X main.version=$RUNC -X main.gitCommit=airgap-standin" -o "$OUT/$R" .)
fi

N=github.com/containerd/nerdctl/releases/download/v$NERDCTL/nerdctl-$NERDCTL-linux-amd64.tar.gz
if [ ! -f "$OUT/$N" ]; then
  src=$(source_of github.com/containerd/nerdctl/v2 "v$NERDCTL" nerdctl)
  rm -rf "$WORK/nerdctl-pkg" && mkdir -p "$WORK/nerdctl-pkg"
  # go.mod replaces its test helper module (mod/tigron, which
  # cmd/nerdctl/helpers imports) by a folder the module's zip leaves out
  # (it has its own go.mod), and the proxy does not serve it alone: take
  # that folder from a git copy of nerdctl at the same tag (NERDCTL_GIT, a
  # git directory, e.g. from fetching github:containerd/nerdctl).
  if grep -q '=> ./mod/tigron' "$src/go.mod" && [ ! -d "$src/mod/tigron" ]; then
    : "${NERDCTL_GIT:?nerdctl $NERDCTL needs mod/tigron: set NERDCTL_GIT to a git directory of containerd/nerdctl holding tag v$NERDCTL}"
    git --git-dir="$NERDCTL_GIT" archive "v$NERDCTL" mod/tigron | tar -x -C "$src"
  fi
  (cd "$src" && CGO_ENABLED=0 go build -mod=mod \
    -ldflags "-s -w -X github.com/containerd/nerdctl/v2/pkg/version.Version=v$NERDCTL -X github.com/containerd/nerdctl/v2/pkg/version.Revision=airgap-standin" \
    -o "$WORK/nerdctl-pkg/nerdctl" ./cmd/nerdctl)
  tarball "$OUT/$N" "$WORK/nerdctl-pkg"
fi

K=github.com/kubernetes-sigs/cri-tools/releases/download/v$CRICTL/crictl-v$CRICTL-linux-amd64.tar.gz
if [ ! -f "$OUT/$K" ]; then
  src=$(source_of sigs.k8s.io/cri-tools "v$CRICTL" cri-tools CRITOOLS_GIT)
  rm -rf "$WORK/crictl-pkg" && mkdir -p "$WORK/crictl-pkg"
  # From git, its own vendor/ (the proxy may not serve its dependencies
  # either: k8s.io/cri-client v0.35.0-rc.1 for 1.35.0, seen); a module zip has none.
  mode=mod
  if [ -f "$src/vendor/modules.txt" ]; then mode=vendor; fi
  (cd "$src" && CGO_ENABLED=0 go build -mod=$mode \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$CRICTL" \
    -o "$WORK/crictl-pkg/crictl" ./cmd/crictl)
  tarball "$OUT/$K" "$WORK/crictl-pkg"
fi

python3 - "$OUT" "$C" "$R" "$N" "$K" <<'EOF'
import hashlib, json, sys
out, files = sys.argv[1], sys.argv[2:]
sums = {f: hashlib.sha256(open(f"{out}/{f}", "rb").read()).hexdigest() for f in files}
open(f"{out}/checksums.json", "w").write(json.dumps(sums, indent=2, sort_keys=True) + "\n")
print(json.dumps(sums, indent=2, sort_keys=True))
EOF
