# shellcheck shell=bash
# Sourced by ci/slurm-up (one node) and ci/multinode (simulated nodes): the
# Slurm packages and the part of slurm.conf both use.

# slurm_install: installs Slurm 22.05, munge and PMIx if missing, without
# letting the packages start daemons (there is no systemd here).
slurm_install() {
    local packages=(slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge libpmix-dev) missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    local policy_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_created=1
    fi
    echo "slurm_install: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$policy_created" = 0 ] || rm -f /usr/sbin/policy-rc.d
}

# slurm_conf_common: the slurm.conf lines that do not name hosts or paths.
# No cgroups (proctrack/linuxproc, task/none); nodes may declare more CPUs
# than they have (config_overrides), so many ranks fit on 2 cores. Callers
# add the host, paths and nodes, then slurm_conf_partition.
slurm_conf_common() {
    cat <<'CONF'
ClusterName=dlb
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
InactiveLimit=0
KillWait=5
MinJobAge=30
CONF
}

# slurm_conf_partition: one partition of all nodes, after the node lines.
slurm_conf_partition() {
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
}
