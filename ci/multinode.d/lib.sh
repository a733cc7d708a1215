# shellcheck shell=bash
# Sourced by ci/multinode and its helpers in ci/multinode.d/: the simulated
# nodes (where their state lives, how they come up and go away), running one
# MPI job on them, and a Slurm across them.
#
# A node nK is a long-lived "holder" process (sleep) in its own network, UTS
# (hostname nK), IPC and mount namespaces, with private tmpfs on /dev/shm and
# /tmp (the checkout bound back if it lives there); everything else (/work,
# /run, /var, /sys) is the host's. Commands run
# on a node through `nsenter` into the holder's namespaces (ci/multinode.d/agent).
# The network: a bridge $MN_BRIDGE on the host ($MN_NET.1/24) and per node a
# veth pair, host end $MN_BRIDGE-nK on the bridge (named after the bridge,
# so that instances with their own DLB_MULTINODE_BRIDGE do not collide),
# node end named $MN_BRIDGE too
# (MPICH's -iface needs one interface name valid everywhere) at $MN_NET.(10+K).
#
# Everything made is appended to $MN_STATE/created (the Slurm's to
# $MN_STATE/slurm/created) before or as it is made; mn_down undoes exactly
# those lines, newest first, and nothing else. $MN_STATE/owner says who
# brought the nodes up: `manual` (ci/multinode up) or the PID and start time
# of the ci/multinode or ci/soak that tears them down when it exits; a state
# whose owner process is gone, or a manual one whose holders are gone, is
# stale, and the next run removes it.

MN_STATE=${DLB_MULTINODE_STATE:-/run/dlb-multinode}
MN_NET=${DLB_MULTINODE_NET:-10.231.47}
MN_BRIDGE=${DLB_MULTINODE_BRIDGE:-dlbmn0}
MN_SUBNET=$MN_NET.0/24
MN_HOST_ADDR=$MN_NET.1

mn_say() { echo "ci/multinode: $*" >&2; }
mn_die() {
    mn_say "$*"
    exit 1
}

# mn_skip_reason: prints why simulated nodes cannot be made here, or nothing.
# The probe makes its namespaces, bridge and veth in a throwaway network
# namespace, so it touches nothing on the host.
mn_skip_reason() {
    local tool
    [ "$(id -u)" -eq 0 ] || { echo "needs root (network, UTS, IPC and mount namespaces)"; return; }
    for tool in unshare nsenter ip setsid; do
        command -v "$tool" >/dev/null || { echo "no '$tool' on this machine"; return; }
    done
    unshare --net --uts --ipc --mount -- sh -c \
        'mount -t tmpfs tmpfs /tmp && ip link add mnprobe0 type bridge && ip link add mnprobe1 type veth peer name mnprobe2' \
        >/dev/null 2>&1 || echo "cannot make namespaces, a tmpfs, a bridge or a veth pair here (container without CAP_SYS_ADMIN?)"
}

# Node names and addresses: n1..nK, $MN_NET.11...
mn_addr() { echo "$MN_NET.$((10 + ${1#n}))"; }

# mn_record LINE: appends LINE to the list of things to undo
# ($MN_RECORD, default $MN_STATE/created).
mn_record() { echo "$*" >>"${MN_RECORD:-$MN_STATE/created}"; }

# mn_starttime PID: the process's start time (field 22 of /proc/PID/stat), so
# a recorded PID is only ever signalled while it is still the same process.
mn_starttime() { awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

# mn_nodes_up: how many nodes are up (0 when none).
mn_nodes_up() {
    [ -s "$MN_STATE/nodes" ] && cat "$MN_STATE/nodes" || echo 0
}

# mn_holder NODE: the PID of NODE's holder, checked to still own the node's
# namespaces; fails if NODE is not up.
mn_holder() {
    local dir="$MN_STATE/node/$1" pid
    [ -s "$dir/uts" ] || return 1
    pid=$(cat "$dir/pid")
    [ "$(readlink "/proc/$pid/ns/uts" 2>/dev/null)" = "$(cat "$dir/uts")" ] || return 1
    echo "$pid"
}

# mn_state: `none`, `stale`, `manual` or `run` (brought up by a live
# process: a ci/multinode or a ci/soak). Stale is a state left by a run that
# is gone, or a `manual` one whose nodes are not all up: a machine that ends
# every process of a session (a CI runner, a reboot that keeps /run) leaves
# the state without its holders, and a run that took those nodes for live
# failed on its first job (node 'n1' is not up).
mn_state() {
    local owner pid start i nodes
    [ -d "$MN_STATE" ] || { echo none; return; }
    owner=$(cat "$MN_STATE/owner" 2>/dev/null || true)
    if [ "$owner" = manual ]; then
        nodes=$(mn_nodes_up)
        for i in $(seq 1 "$nodes"); do
            mn_holder "n$i" >/dev/null || { echo stale; return; }
        done
        ((nodes > 0)) && echo manual || echo stale
        return
    fi
    read -r pid start <<<"$owner"
    if [ -n "$owner" ] && [ "$(mn_starttime "$pid")" = "$start" ]; then echo run; else echo stale; fi
}

# mn_claim K FEW: whether this process brings nodes up. Returns 1 when the
# live nodes of a `ci/multinode up` session serve (K of them at least), to
# be reused. Dies when a running ci/multinode or ci/soak owns the nodes.
# Else removes what is there and returns 0: a killed run's stale state, and
# manual nodes fewer than K when FEW is `replace` (with FEW `refuse` it dies
# then). The caller then arranges for the removal of what it makes
# (mn_cleanup_on_exit) and brings the nodes up (mn_up K run).
mn_claim() {
    case $(mn_state) in
    manual)
        (($(mn_nodes_up) >= $1)) && return 1
        [ "$2" = replace ] || mn_die "the nodes of 'ci/multinode up' are fewer than $1"
        mn_say "replacing the $(mn_nodes_up) nodes of 'ci/multinode up' (this run needs $1)"
        mn_down
        ;;
    run) mn_die "another ci/multinode or ci/soak is using the nodes in $MN_STATE (owner $(cat "$MN_STATE/owner"))" ;;
    stale)
        mn_say "removing what an earlier run left in $MN_STATE"
        mn_down
        ;;
    esac
    return 0
}

# mn_cleanup_on_exit COMMAND: runs COMMAND however this process exits: at
# its end, on an error, or on SIGINT or SIGTERM (exit status 130 or 143).
mn_cleanup_on_exit() {
    trap "$1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# mn_up K OWNER: makes the bridge and nodes n1..nK; OWNER is `manual` or
# `run` (this ci/multinode or ci/soak process, $$). Call mn_down on failure.
# The owner is this process while the nodes come up (a run started
# meanwhile finds the state live and refuses) and `manual` only once all
# are up.
mn_up() {
    local k=$1 i
    mkdir -p "$MN_STATE/node" "$MN_STATE/shared"
    chmod 1777 "$MN_STATE/shared"
    echo "$$ $(mn_starttime $$)" >"$MN_STATE/owner"
    : >"$MN_STATE/created"
    if ip link show "$MN_BRIDGE" >/dev/null 2>&1; then
        mn_die "a network interface $MN_BRIDGE exists and is not recorded as ours; set DLB_MULTINODE_BRIDGE"
    fi
    if ip -br addr | grep -q " $MN_NET\."; then
        mn_die "addresses in $MN_SUBNET are in use on this machine; set DLB_MULTINODE_NET"
    fi
    mn_record "link $MN_BRIDGE"
    ip link add "$MN_BRIDGE" type bridge
    ip addr add "$MN_HOST_ADDR/24" dev "$MN_BRIDGE"
    ip link set "$MN_BRIDGE" up
    for i in $(seq 1 "$k"); do
        mn_node_up "n$i"
    done
    echo "$k" >"$MN_STATE/nodes"
    [ "$2" != manual ] || echo manual >"$MN_STATE/owner"
}

# mn_node_up NODE: the holder (namespaces, hostname, tmpfs mounts), then its
# veth pair.
mn_node_up() {
    local node=$1 dir="$MN_STATE/node/$1" pid
    mkdir -p "$dir"
    # setsid: the holder outlives this script (for `up`) and is not in the
    # terminal's process group. It writes `ready` once its namespaces are set.
    # A checkout under /tmp (or /dev/shm) stays visible: it is bound to the
    # node's state directory before the tmpfs covers it, and back after.
    setsid unshare --net --uts --ipc --mount --propagation private -- sh -c '
        repo=$3 keep=$2/repo
        case $repo in /tmp/* | /dev/shm/*) mkdir -p "$keep" && mount --bind "$repo" "$keep" ;; *) keep="" ;; esac &&
        hostname "$1" &&
        mount -t tmpfs -o mode=1777 tmpfs /dev/shm &&
        mount -t tmpfs -o mode=1777 tmpfs /tmp &&
        { [ -z "$keep" ] || { mkdir -p "$repo" && mount --bind "$keep" "$repo"; }; } &&
        ip link set lo up &&
        touch "$2/ready" &&
        exec sleep infinity' sh "$node" "$dir" "$PWD" </dev/null >/dev/null 2>"$dir/holder.err" &
    pid=$!
    echo "$pid" >"$dir/pid"
    mn_record "holder $node $pid $(mn_starttime "$pid")"
    for _ in $(seq 1 100); do
        [ -e "$dir/ready" ] && break
        kill -0 "$pid" 2>/dev/null || mn_die "the holder of $node failed: $(cat "$dir/holder.err")"
        sleep 0.05
    done
    [ -e "$dir/ready" ] || mn_die "the holder of $node did not get ready"
    readlink "/proc/$pid/ns/uts" >"$dir/uts"
    mn_record "link $MN_BRIDGE-$node"
    ip link add "$MN_BRIDGE-$node" type veth peer name "$MN_BRIDGE" netns "$pid"
    ip link set "$MN_BRIDGE-$node" master "$MN_BRIDGE" up
    nsenter -t "$pid" --net -- ip addr add "$(mn_addr "$node")/24" dev "$MN_BRIDGE"
    nsenter -t "$pid" --net -- ip link set "$MN_BRIDGE" up
}

# mn_on NODE COMMAND...: runs COMMAND inside NODE's namespaces.
mn_on() {
    local pid
    pid=$(mn_holder "$1") || mn_die "node $1 is not up (ci/multinode up)"
    shift
    nsenter -t "$pid" --net --uts --ipc --mount -- "$@"
}

# mn_kill_recorded PID STARTTIME: SIGTERM, then SIGKILL, a recorded host
# process if it is still the one recorded.
mn_kill_recorded() {
    local pid=$1 start=$2
    [ "$(mn_starttime "$pid")" = "$start" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 40); do
        [ "$(mn_starttime "$pid")" = "$start" ] || return 0
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
}

# mn_kill_node_processes UTS: every process in the UTS namespace UTS (one of
# ours: only processes we started run there), SIGTERM then SIGKILL.
mn_kill_node_processes() {
    local uts=$1 sig pids p
    for sig in TERM TERM TERM KILL KILL; do
        pids=()
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/ns/uts" 2>/dev/null)" = "$uts" ] && pids+=("${p#/proc/}")
        done
        ((${#pids[@]})) || return 0
        kill -s "$sig" "${pids[@]}" 2>/dev/null || true
        sleep 0.3
    done
}

# mn_undo FILE: undoes what FILE lists, newest first.
mn_undo() {
    local what a b c
    [ -e "$1" ] || return 0
    while read -r what a b c; do
        case $what in
        holder)
            # Everything inside the node, then the holder; the node's
            # network namespace and veth pair go with the last process.
            [ ! -s "$MN_STATE/node/$a/uts" ] || mn_kill_node_processes "$(cat "$MN_STATE/node/$a/uts")"
            mn_kill_recorded "$b" "$c"
            ;;
        process) mn_kill_recorded "$b" "$c" ;;
        link) ip link del "$a" 2>/dev/null || true ;;
        esac
    done < <(tac "$1")
}

# mn_down: stops running jobs, undoes the Slurm and the nodes, then removes
# the state directory.
# Safe to call on a partial or stale state.
mn_down() {
    local group pid start
    [ -d "$MN_STATE" ] || return 0
    # The process groups of jobs still running (their host side).
    for group in "$MN_STATE"/jobs/*/group; do
        [ -e "$group" ] || continue
        read -r pid start <"$group"
        [ "$(mn_starttime "$pid")" != "$start" ] || kill -KILL -- "-$pid" 2>/dev/null || true
    done
    mn_slurm_down
    mn_undo "$MN_STATE/created"
    rm -rf "$MN_STATE"
}

# mn_run_job LABEL RANKS COMMAND...: runs an MPI job (COMMAND launches RANKS
# ranks) in its own process group, streaming its output through, under a
# timeout of DLB_MULTINODE_TIMEOUT seconds (default 200; exit status 124).
# The whole group is killed when the job ends. MPICH across nodes sometimes
# hangs in MPI_Finalize after correct output (the project's MPI notes): for
# a LABEL starting with "mpich" only, once every rank has finished (a test's
# ranks wrote $DLB_TEST_OUT/rank-<r>.done, or the output has a line equal to
# DLB_MULTINODE_DONE_LINE, default "dlbcheck: PASS") and the job has not
# exited DLB_MULTINODE_GRACE seconds later (default 5), it is killed, the
# exit status is 0, and one line says so on stderr and is appended to the
# file DLB_MULTINODE_EVENTS if set.
mn_run_job() {
    local label=$1 ranks=$2 job pid status="" grace_end="" deadline line
    shift 2
    mkdir -p "$MN_STATE/jobs"
    job=$(mktemp -d "$MN_STATE/jobs/job.XXXXXX")
    # Made before the job starts: the background job opens them later, and a
    # `tail` that finds no file gives up (the output was lost, once in 30 runs).
    : >"$job/stdout"
    : >"$job/stderr"
    # setsid: the job's processes, on the host and (through the agent) on
    # the nodes, share one new process group.
    setsid "$@" </dev/null >"$job/stdout" 2>"$job/stderr" &
    pid=$!
    echo "$pid $(mn_starttime "$pid")" >"$job/group"
    tail -n +1 -f --pid="$pid" "$job/stdout" &
    tail -n +1 -f --pid="$pid" "$job/stderr" >&2 &
    deadline=$((SECONDS + ${DLB_MULTINODE_TIMEOUT:-200}))
    while mn_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            mn_say "$label job timed out after ${DLB_MULTINODE_TIMEOUT:-200} s: $*"
            status=124
            break
        fi
        if [[ $label == mpich* ]] && [ -z "$grace_end" ] && mn_finished "$ranks" "$job/stdout"; then
            grace_end=$((SECONDS + ${DLB_MULTINODE_GRACE:-5}))
        fi
        if [ -n "$grace_end" ] && ((SECONDS >= grace_end)); then
            line="MPICH hung in MPI_Finalize after all ranks finished; known, see notes ($label, $ranks ranks)"
            mn_say "$line"
            [ -z "${DLB_MULTINODE_EVENTS:-}" ] || echo "$line" >>"$DLB_MULTINODE_EVENTS"
            status=0
            break
        fi
        sleep 0.2
    done
    if [ -z "$status" ]; then
        status=0
        wait "$pid" || status=$?
    fi
    # The group's leftovers, then the rest of the output; no "Killed" notice.
    {
        kill -KILL -- "-$pid"
        wait
    } 2>/dev/null || true
    rm -rf "$job"
    return "$status"
}

# mn_alive PID: whether PID runs (a zombie does not).
mn_alive() {
    local stat
    stat=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [ "${stat%% *}" != Z ]
}

# mn_finished RANKS STDOUT: whether every rank of a job has finished its work.
mn_finished() {
    if [ -n "${DLB_TEST_OUT:-}" ]; then
        local done_files=("$DLB_TEST_OUT"/rank-*.done)
        [ -e "${done_files[0]}" ] && ((${#done_files[@]} == $1))
    else
        grep -qxF "${DLB_MULTINODE_DONE_LINE:-dlbcheck: PASS}" "$2"
    fi
}

# mn_slurm_up K: a Slurm across nodes n1..nK, all of it under $MN_STATE/slurm:
# its own munged (own key and socket) and slurmctld on the host, one slurmd
# per node inside the node. slurmctld listens on port 6917, not the default
# 6817, so a single-node Slurm (ci/slurm-up) may run at the same time.
# Clients need SLURM_CONF=$MN_STATE/slurm/slurm.conf. Needs ci/slurm-lib.sh.
mn_slurm_up() {
    local k=$1 dir="$MN_STATE/slurm" i
    local MN_RECORD="$dir/created"
    mkdir -p "$dir/munge" "$dir/ctld" "$dir/spool" "$dir/log"
    : >"$MN_RECORD"
    chmod 755 "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/key"
    munged --socket="$dir/munge/socket" --key-file="$dir/munge/key" --pid-file="$dir/munge/pid" \
        --log-file="$dir/munge/log" --seed-file="$dir/munge/seed"
    mn_record_pidfile munged "$dir/munge/pid"
    {
        echo "# Written by dlb's ci/multinode: $k simulated nodes."
        slurm_conf_common
        cat <<CONF
AuthInfo=socket=$dir/munge/socket
SlurmctldHost=$(hostname -s)($MN_HOST_ADDR)
SlurmctldPort=6917
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.%n.log
CONF
        for i in $(seq 1 "$k"); do
            echo "NodeName=n$i NodeAddr=$(mn_addr "n$i") NodeHostname=n$i CPUs=32 State=UNKNOWN"
        done
        slurm_conf_partition
    } >"$dir/slurm.conf"
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF"
    mn_record_pidfile slurmctld "$dir/slurmctld.pid"
    for i in $(seq 1 "$k"); do
        mn_on "n$i" slurmd -f "$SLURM_CONF" -N "n$i"
        mn_record_pidfile "slurmd-n$i" "$dir/slurmd.n$i.pid"
    done
    for _ in $(seq 1 100); do
        [ "$(sinfo -h -t idle -o '%D' 2>/dev/null)" = "$k" ] && return 0
        sleep 0.2
    done
    mn_say "the Slurm nodes did not become idle; logs:"
    tail -n 20 "$dir"/log/* >&2 || true
    return 1
}

# mn_record_pidfile NAME FILE: waits for a daemon's PID file, records the PID.
mn_record_pidfile() {
    local pid=""
    for _ in $(seq 1 50); do
        pid=$(cat "$2" 2>/dev/null || true)
        [ -n "$pid" ] && [ -n "$(mn_starttime "$pid")" ] && break
        sleep 0.1
    done
    [ -n "$pid" ] || mn_die "$1 did not start (no $2)"
    mn_record "process $1 $pid $(mn_starttime "$pid")"
}

# mn_slurm_down: cancels every job of our Slurm, stops its daemons and the
# job steps left on the nodes, and removes $MN_STATE/slurm.
mn_slurm_down() {
    local dir="$MN_STATE/slurm"
    [ -d "$dir" ] || return 0
    [ ! -e "$dir/slurm.conf" ] || { SLURM_CONF="$dir/slurm.conf" squeue -h -o %i | SLURM_CONF="$dir/slurm.conf" xargs -r scancel; } 2>/dev/null || true
    mn_undo "$dir/created"
    rm -rf "$dir"
}
