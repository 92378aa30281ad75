#!/usr/bin/env bash
# Installs the Debian packages the tests use (run as root, once per machine):
# Ansible with its collections (community.crypto), the linters, the registry's
# tools and the lab's. Services these packages ship (nginx, docker-registry)
# are not started: the tests run their own, on the loopback or in the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update
policy=/usr/sbin/policy-rc.d
[ -e "$policy" ] && keep_policy=1 || keep_policy=0
if [ "$keep_policy" = 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
# shellcheck disable=SC2046 # one package name per line
apt-get install -y --no-install-recommends $(grep -hv '^\s*#' test/packages.txt test/lab/packages.txt | sort -u)
