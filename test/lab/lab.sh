#!/usr/bin/env bash
# airgap lab: Debian 12 machines (systemd-nspawn on overlayfs) in their own
# network namespaces, joined by bridges in the root namespace, with no route
# out. The end-to-end tests run the compiled playbooks against them.
#
#   lab.sh up | down | status | ssh HOST [CMD...]
#
# Environment: AIRGAP_LAB_DIR (state, default /var/lib/airgap-lab),
# AIRGAP_LAB_CONF (topology, default hosts.conf next to this script),
# AIRGAP_LAB_MIRROR (Debian mirror for debootstrap, default from apt sources),
# AIRGAP_LAB_BOOT_TIMEOUT (seconds to wait for sshd, default 60).
# See docs/lab.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${AIRGAP_LAB_DIR:-/var/lib/airgap-lab}
CONF=${AIRGAP_LAB_CONF:-$HERE/hosts.conf}
BOOT_TIMEOUT=${AIRGAP_LAB_BOOT_TIMEOUT:-60}
SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,ca-certificates
BASE_REV=2             # bump when the base's post-debootstrap steps change
NFT_TABLE=airgap_lab   # our own nftables table, deleted by name
CG_NAME=airgap-lab     # our cgroup subtree: <hierarchy>/airgap-lab/<host>
NS_PREFIX=ag-          # network namespaces: ag-<host>
VETH_PREFIX=agv        # root-side veth ends: agv<host><n>

KEY=$STATE/ssh/id_ed25519
KNOWN_HOSTS=$STATE/known_hosts
SSH_OPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -i "$KEY"
  -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=yes -o ConnectTimeout=2 -o LogLevel=ERROR)

die() { echo "lab: $*" >&2; exit 1; }
log() { echo "lab: $*"; }
now() { date +%s.%N; }
T0=$(now)
phase() { # phase NAME START: print how long a phase took
  awk -v n="$1" -v a="$2" -v b="$(now)" 'BEGIN { printf "lab: %-12s %6.1fs\n", n, b - a }'
}

# ---------------------------------------------------------------- topology
BRIDGES=() ; declare -A BR_ADDR=()
FORWARD=() ; ROOT_ROUTES=()
HOSTS=()   ; declare -A H_NETS=() H_ROUTES=() H_FWD=()

load_conf() {
  [[ -r $CONF ]] || die "no topology file $CONF"
  local line kw name tok n=0
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1)); line=${line%%#*}
    read -r -a tok <<<"$line"
    (( ${#tok[@]} )) || continue
    kw=${tok[0]}; name=${tok[1]:-}
    case $kw in
      bridge)
        [[ $name =~ ^agbr[0-9]+$ && ${#tok[@]} -eq 3 ]] || die "$CONF:$n: bridge agbrN ADDR/PREFIX|-"
        BRIDGES+=("$name"); BR_ADDR[$name]=${tok[2]} ;;
      forward) FORWARD=("${tok[@]:1}") ;;
      route)
        [[ ${#tok[@]} -eq 3 ]] || die "$CONF:$n: route DEST GATEWAY"
        ROOT_ROUTES+=("${tok[1]}@${tok[2]}") ;;
      host)
        [[ $name =~ ^[a-z][a-z0-9]{0,10}$ ]] || die "$CONF:$n: host name must match [a-z][a-z0-9]{0,10}"
        HOSTS+=("$name"); H_NETS[$name]=""; H_ROUTES[$name]=""; H_FWD[$name]=0
        for t in "${tok[@]:2}"; do
          case $t in
            forward) H_FWD[$name]=1 ;;
            route=*@*) H_ROUTES[$name]+=" ${t#route=}" ;;
            agbr*=*/*) H_NETS[$name]+=" $t" ;;
            *) die "$CONF:$n: cannot read '$t'" ;;
          esac
        done
        [[ -n ${H_NETS[$name]} ]] || die "$CONF:$n: host $name has no interface" ;;
      *) die "$CONF:$n: unknown statement '$kw'" ;;
    esac
  done <"$CONF"
}

addr_of() { # first address of a host, without prefix
  local first=${H_NETS[$1]# }; first=${first%% *}; first=${first#*=}; echo "${first%/*}"
}

# ---------------------------------------------------------------- cleanup
# Everything below works from names and recorded PIDs only, so it also
# removes what a killed run left behind, and never touches anything else.

kill_machines() {
  local pidf pid alive pids=()
  for pidf in "$STATE"/hosts/*/pid; do
    [[ -e $pidf ]] || continue
    pid=$(<"$pidf")
    # Only a systemd-nspawn still running this lab machine (PIDs get reused).
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" |
        grep -q "^systemd-nspawn .*--machine=$(basename "$(dirname "$pidf")") "; then
      pids+=("$pid")
    fi
  done
  if (( ${#pids[@]} )); then
    kill -TERM "${pids[@]}" 2>/dev/null || true  # nspawn powers the machine off
    for _ in $(seq 50); do   # up to 10 s for a clean poweroff
      alive=0; for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      (( alive )) || break; sleep 0.2
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$STATE"/hosts/*/pid
  # A machine whose nspawn was SIGKILLed outlives it; whatever still runs in
  # one of our cgroups or namespaces was started by the lab.
  local left
  for _ in $(seq 50); do
    left=$(lab_pids)
    [[ -z $left ]] && break
    kill -KILL $left 2>/dev/null || true; sleep 0.1
  done
  [[ -z $left ]] || die "processes of the lab survive SIGKILL: $left"
  local root
  for root in $(cgroup_roots); do
    [[ -d $root/$CG_NAME ]] && find "$root/$CG_NAME" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

lab_pids() { # every process in the lab's cgroups and network namespaces
  local root ns
  for root in $(cgroup_roots); do
    [[ -d $root/$CG_NAME ]] && find "$root/$CG_NAME" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NS_PREFIX" || true); do
    ip netns pids "$ns" 2>/dev/null || true
  done
}

cgroup_roots() { # the hierarchies systemd tracks processes in: v2 and v1 name=systemd
  local d
  for d in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
    case $(stat -f -c %T "$d" 2>/dev/null) in cgroup2fs|cgroupfs) echo "$d" ;; esac
  done
}

unmount_overlays() {
  local mp
  # Mount points are field 5 of mountinfo; ours all live under $STATE/hosts.
  for mp in $(awk -v d="$STATE/hosts/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$mp" 2>/dev/null || umount -l "$mp"
  done
}

remove_network() {
  local l ns
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 |
             grep -E "^($VETH_PREFIX|agbr[0-9]+$)" || true); do
    ip link del "$l" 2>/dev/null || true   # deleting one veth end removes both
  done
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NS_PREFIX" || true); do
    ip netns del "$ns"
  done
  nft delete table inet "$NFT_TABLE" 2>/dev/null || true
}

cleanup() { kill_machines; unmount_overlays; remove_network; }

# ---------------------------------------------------------------- base image
mirror() { # the Debian mirror this machine's apt already uses
  [[ -n ${AIRGAP_LAB_MIRROR:-} ]] && { echo "$AIRGAP_LAB_MIRROR"; return; }
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -oE '(^URIs:|^deb) +[^ ]+/debian/?( |$)' | awk '{print $2}' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

BASE=""
ensure_base() {
  local key
  # The cache key covers everything that shapes the base: change any, rebuild.
  key=$(echo "$SUITE minbase $INCLUDE $BASE_REV" | sha256sum | cut -c1-12)
  BASE=$STATE/base/$SUITE-$key
  if [[ -e $BASE/.complete ]]; then log "base: cache hit $BASE"; return; fi
  local tmp=$BASE.tmp m; m=$(mirror)
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "base: debootstrap $SUITE from $m (log: $tmp.log)"
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp/rootfs" "$m" >"$tmp.log" 2>&1 ||
    { tail -n 20 "$tmp.log" >&2; die "debootstrap failed, see $tmp.log"; }
  # Hosts must get every package from the site's own repository: drop the
  # mirror's package lists and the downloaded .debs (sources stay as made).
  find "$tmp/rootfs/var/lib/apt/lists" -maxdepth 1 -type f -delete
  find "$tmp/rootfs/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -delete
  echo "$SUITE minbase $INCLUDE $BASE_REV $m" >"$tmp/.complete"
  rm -rf "$BASE"; mv "$tmp" "$BASE"; mv "$tmp.log" "$BASE/debootstrap.log"
  # Older bases (another include list or revision) are dead weight now.
  find "$STATE/base" -mindepth 1 -maxdepth 1 ! -name "$(basename "$BASE")" -exec rm -rf {} +
}

ensure_key() {
  [[ -e $KEY ]] && return
  mkdir -p "$(dirname "$KEY")"; chmod 700 "$(dirname "$KEY")"
  ssh-keygen -q -t ed25519 -N '' -C airgap-lab -f "$KEY"
}

# ---------------------------------------------------------------- per host
prepare_host() { # fresh overlay root for one host, customised from outside
  local h=$1 d=$STATE/hosts/$1 r
  r=$d/root
  rm -rf "$d"; mkdir -p "$d/upper" "$d/work" "$r"
  mount -t overlay "ag-$h" -o "lowerdir=$BASE/rootfs,upperdir=$d/upper,workdir=$d/work" "$r"

  echo "$h" >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$h" >"$r/etc/hosts"
  # No resolver yet: the product configures it (debootstrap copied ours in).
  echo "# airgap lab: no resolver until the site's DNS is configured" >"$r/etc/resolv.conf"
  tr -d '-' </proc/sys/kernel/random/uuid >"$r/etc/machine-id"

  install -d -m 700 "$r/root/.ssh"
  install -m 600 "$KEY.pub" "$r/root/.ssh/authorized_keys"
  # A host key of its own (the base's would be shared by every host), known
  # to us in advance: known_hosts is written from it, not learnt by scanning.
  rm -f "$r"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$r/etc/ssh/ssh_host_ed25519_key"
  printf '# airgap lab\nHostKey /etc/ssh/ssh_host_ed25519_key\n' >"$r/etc/ssh/sshd_config.d/lab.conf"

  # The network is configured from outside before boot; keep networkd off it.
  ln -sf /dev/null "$r/etc/systemd/system/systemd-networkd.service"
  ln -sf /dev/null "$r/etc/systemd/system/systemd-networkd.socket"

  # Lab adaptation for chrony (not the product's): hosts share the kernel clock
  # and lack CAP_SYS_TIME, so run chronyd even so, with -x (never set the clock).
  # ExecStart is Debian 12's own line plus -x.
  install -d "$r/etc/systemd/system/chrony.service.d"
  cat >"$r/etc/systemd/system/chrony.service.d/lab.conf" <<'EOF'
# airgap lab: shared kernel clock, no CAP_SYS_TIME. Serve and measure only.
[Unit]
ConditionCapability=

[Service]
ExecStart=
ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x
EOF
}

setup_network() {
  local br a ns h i net dev rt
  for br in "${BRIDGES[@]}"; do
    ip link add "$br" type bridge
    [[ ${BR_ADDR[$br]} == - ]] || ip addr add "${BR_ADDR[$br]}" dev "$br"
    ip link set "$br" up
  done
  for h in "${HOSTS[@]}"; do
    ns=$NS_PREFIX$h; i=0
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    for net in ${H_NETS[$h]}; do
      br=${net%%=*}; a=${net#*=}; dev=$VETH_PREFIX$h$i
      [[ -n ${BR_ADDR[$br]:-} ]] || die "host $h: unknown bridge $br"
      ip link add "$dev" type veth peer name "eth$i" netns "$ns"
      ip link set "$dev" master "$br" up
      ip -n "$ns" addr add "$a" dev "eth$i"
      ip -n "$ns" link set "eth$i" up
      i=$((i + 1))
    done
    for rt in ${H_ROUTES[$h]}; do ip -n "$ns" route add "${rt%@*}" via "${rt#*@}"; done
    if (( ${H_FWD[$h]} )); then ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1; fi
  done
  for rt in "${ROOT_ROUTES[@]}"; do
    a=${rt%@*}; ip route add "$a" via "${rt#*@}"
  done
  if (( ${#FORWARD[@]} )); then
    # Forward between the listed bridges only: forwarding is switched on per
    # interface (not the global ip_forward, so eth0 and friends never forward)
    # and our own nftables table drops anything else entering or leaving them.
    local set; set=$(printf '"%s", ' "${FORWARD[@]}"); set="{ ${set%, } }"
    nft -f - <<EOF
table inet $NFT_TABLE {
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname $set oifname $set accept
    iifname $set drop
    oifname $set drop
  }
}
EOF
    for br in "${FORWARD[@]}"; do sysctl -qw "net.ipv4.conf.$br.forwarding=1"; done
  fi
}

boot_host() {
  local h=$1 d=$STATE/hosts/$1
  # Each machine in a cgroup of its own: with --keep-unit nspawn builds the
  # machine's cgroup tree under its own, and machines sharing one would manage
  # (and kill) each other's services.
  local root
  for root in $(cgroup_roots); do mkdir -p "$root/$CG_NAME/$h"; done
  # setsid: the machine must not die with our terminal; --register=no and
  # --keep-unit because systemd need not be PID 1 here. A machine manages
  # its own network namespace as a real host does (routes, nftables,
  # net.ipv4.* sysctls): nspawn keeps CAP_NET_ADMIN and a writable
  # /proc/sys/net only for networks it makes itself, so ask for both.
  (
    for root in $(cgroup_roots); do echo "$BASHPID" >"$root/$CG_NAME/$h/cgroup.procs"; done
    # The machine outlives us: it must not keep an inherited descriptor open,
    # such as the lab lock of a `flock LOCK lab.sh up` (it would hold the lock
    # for as long as the machine runs).
    for fd in $(ls "/proc/$BASHPID/fd"); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
    SYSTEMD_NSPAWN_API_VFS_WRITABLE=network \
    exec setsid systemd-nspawn --machine="$h" -D "$d/root" \
      --network-namespace-path="/run/netns/$NS_PREFIX$h" --capability=CAP_NET_ADMIN \
      --register=no --keep-unit --link-journal=no --resolv-conf=off \
      --timezone=off --console=read-only -b
  ) </dev/null >"$d/console.log" 2>&1 &
  echo $! >"$d/pid"
}

ssh_ok() { ssh "${SSH_OPTS[@]}" "root@$1" true >/dev/null 2>&1; }

write_known_hosts() {
  local h a tmp=$KNOWN_HOSTS.tmp net
  : >"$tmp"
  for h in "${HOSTS[@]}"; do
    a=$h
    for net in ${H_NETS[$h]}; do net=${net#*=}; a+=",${net%/*}"; done
    echo "$a $(cut -d' ' -f1-2 "$STATE/hosts/$h/root/etc/ssh/ssh_host_ed25519_key.pub")" >>"$tmp"
  done
  mv "$tmp" "$KNOWN_HOSTS"
}

wait_ssh() {
  local deadline=$(( $(date +%s) + BOOT_TIMEOUT )) h pending=("${HOSTS[@]}") still
  while (( ${#pending[@]} )); do
    still=()
    for h in "${pending[@]}"; do
      kill -0 "$(<"$STATE/hosts/$h/pid")" 2>/dev/null || {
        tail -n 30 "$STATE/hosts/$h/console.log" >&2; die "$h: systemd-nspawn exited during boot"; }
      # Ready = sshd lets us in and systemd has finished booting.
      case $(ssh "${SSH_OPTS[@]}" "root@$(addr_of "$h")" systemctl is-system-running 2>/dev/null) in
        running) ;;
        degraded) log "WARNING: $h booted degraded: $(ssh "${SSH_OPTS[@]}" "root@$(addr_of "$h")" \
                    systemctl --failed --no-legend --plain | awk '{printf "%s ", $1}')" ;;
        *) still+=("$h") ;;
      esac
    done
    pending=("${still[@]}")
    (( ${#pending[@]} )) || break
    if (( $(date +%s) >= deadline )); then
      for h in "${pending[@]}"; do
        echo "--- $h: last lines of $STATE/hosts/$h/console.log" >&2
        tail -n 30 "$STATE/hosts/$h/console.log" >&2
      done
      die "not ready (sshd + systemd boot) within ${BOOT_TIMEOUT}s: ${pending[*]}"
    fi
    sleep 0.5
  done
}

write_env() { # what tests need, as shell: export NAME='value'
  local h tmp=$STATE/lab.env.tmp ssh_args
  # Host keys are checked against the keys the lab generated, never learnt.
  ssh_args="-o UserKnownHostsFile=$KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
  {
    echo "# written by lab.sh up; source it or parse lines: export NAME='value'"
    echo "export AIRGAP_LAB_DIR='$STATE'"
    echo "export AIRGAP_LAB_HOSTS='${HOSTS[*]}'"
    for h in "${HOSTS[@]}"; do echo "export AIRGAP_LAB_ADDR_$h='$(addr_of "$h")'"; done
    echo "export AIRGAP_LAB_SSH_KEY='$KEY'"
    echo "export AIRGAP_LAB_KNOWN_HOSTS='$KNOWN_HOSTS'"
    echo "export AIRGAP_LAB_SSH_ARGS='-i $KEY $ssh_args'"
    echo "export AIRGAP_LAB_INVENTORY='$STATE/inventory.ini'"
    echo "export ANSIBLE_SSH_ARGS='-o ControlMaster=auto -o ControlPersist=60s $ssh_args'"
    echo "export ANSIBLE_PRIVATE_KEY_FILE='$KEY'"
    echo "export ANSIBLE_REMOTE_USER='root'"
    echo "export ANSIBLE_HOST_KEY_CHECKING='True'"
  } >"$tmp"
  mv "$tmp" "$STATE/lab.env"
  { echo "[lab]"
    for h in "${HOSTS[@]}"; do echo "$h ansible_host=$(addr_of "$h")"; done
  } >"$STATE/inventory.ini"
}

lock() { # one lab.sh up/down at a time
  mkdir -p "$STATE"; exec 9>"$STATE/lock"
  flock -w 120 9 || die "another lab.sh holds $STATE/lock"
}

# ---------------------------------------------------------------- commands
cmd_up() {
  [[ $(id -u) == 0 ]] || die "up needs root"
  load_conf; lock
  local t
  t=$(now); cleanup; rm -rf "$STATE/lab.env" "$KNOWN_HOSTS" "$STATE/hosts"; phase cleanup "$t"
  t=$(now); ensure_base; ensure_key; phase base "$t"
  t=$(now); for h in "${HOSTS[@]}"; do prepare_host "$h"; done; phase overlays "$t"
  t=$(now); setup_network; phase network "$t"
  t=$(now); for h in "${HOSTS[@]}"; do boot_host "$h"; done; write_known_hosts; phase boot "$t"
  t=$(now); wait_ssh; write_env; phase ssh-ready "$t"
  phase total "$T0"
  log "up: ${HOSTS[*]}; env: $STATE/lab.env"
}

cmd_down() {
  [[ $(id -u) == 0 ]] || die "down needs root"
  lock
  cleanup
  rm -f "$STATE/lab.env" "$KNOWN_HOSTS" "$STATE/inventory.ini"
  phase down "$T0"
}

cmd_status() {
  load_conf
  local h pid alive ans
  printf '%-10s %-8s %-15s %s\n' HOST PID ADDRESS SSH
  for h in "${HOSTS[@]}"; do
    pid=$(cat "$STATE/hosts/$h/pid" 2>/dev/null || echo -)
    alive=$pid; [[ $pid != - ]] && ! kill -0 "$pid" 2>/dev/null && alive="$pid(dead)"
    ans=no; [[ -e $KNOWN_HOSTS ]] && ssh_ok "$(addr_of "$h")" && ans=yes
    printf '%-10s %-8s %-15s %s\n' "$h" "$alive" "$(addr_of "$h")" "$ans"
  done
}

cmd_ssh() {
  load_conf
  local h=${1:?usage: lab.sh ssh HOST [CMD...]}; shift
  [[ -n ${H_NETS[$h]:-} ]] || die "no host $h in $CONF"
  exec ssh "${SSH_OPTS[@]}" "root@$(addr_of "$h")" "$@"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  ssh) shift; cmd_ssh "$@" ;;
  *) echo "usage: lab.sh up|down|status|ssh HOST [CMD...]" >&2; exit 2 ;;
esac
