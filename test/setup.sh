#!/usr/bin/env bash
# Installs the Debian packages the tests use (run as root, once per machine):
# Ansible with its collections (community.crypto), the linters, and the lab's tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2046 # one package name per line
apt-get install -y --no-install-recommends $(grep -hv '^\s*#' test/packages.txt test/lab/packages.txt | sort -u)
